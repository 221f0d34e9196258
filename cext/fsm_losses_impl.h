/* losses: see issue 4 */
