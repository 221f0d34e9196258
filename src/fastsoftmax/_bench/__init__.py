"""Benchmark harness behind ``python -m fastsoftmax bench`` and ``benchmarks/``.

Private subpackage, one module per concern:

``registry``
    What is measured: the ops (inputs, bytes they must move) and, per
    implementation (fastsoftmax, NumPy, torch, SciPy, onnxruntime, JAX), how to call them;
    :func:`registry.reference` (:mod:`fastsoftmax.slow`) is what results are
    checked against; :func:`registry.numpy_peer` is the plain-NumPy column.
``inputs``
    The shape matrix, the seeded input makers and the files through which the
    probes share one generated input.
``timing``
    The adaptive timing loop and the memory pre-touch.
``machine``
    Machine facts, the busy-machine check and the memory bandwidth.
``matrix_probe``, ``linear_probe``
    Run as ``python -m fastsoftmax._bench.<probe>``: one implementation in a
    fresh process times its ops (or one linear cross-entropy call and its peak
    memory) and prints JSON.
``probe``
    What the fresh-process probes share: the peak-RSS counters, the spec's
    bound call and the command line.
``runner``
    Starts the probes in rounds that alternate between implementations and
    gathers their JSON into one result document.
``report``
    Table, JSON file, comparison of two JSON files, plot.
``cli``
    The ``bench`` command's arguments.

Importing this package imports none of the optional libraries; the probes do.
The type of the JSON objects the modules pass around (events, probe specs,
the run's document and its parts, see :mod:`report`) is :data:`JSONDict`.
"""
from __future__ import annotations

from typing import Any

#: A JSON object: heterogeneous values, fixed by the document's layout only.
JSONDict = dict[str, Any]
