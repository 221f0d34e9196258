"""Every public computing function of fastsoftmax has a bad-input table: the
op families of this directory's test modules partition them."""
from pathlib import Path

import fastsoftmax as fs
from bad_input._cases import FAMILIES

NOT_COMPUTING = {"get_num_threads", "set_num_threads", "num_threads", "openmp_enabled",
                 "show_config"}


def test_the_families_partition_the_public_functions():
    public = {n for n in fs.__all__ if callable(getattr(fs, n)) and n not in NOT_COMPUTING}
    functions = [f for family in FAMILIES.values() for f in family]
    assert len(functions) == len(set(functions)), "a function in two families"
    assert set(functions) == public


def test_every_family_has_its_module():
    here = Path(__file__).parent
    for module in FAMILIES:
        assert (here / f"{module}.py").is_file(), module
