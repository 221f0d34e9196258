"""Every public computing function of fastsoftmax has a bad-input table: the
op families of this directory's test modules partition them."""
from pathlib import Path

from _helpers import computing_functions
from bad_input._cases import FAMILIES


def test_the_families_partition_the_public_functions():
    public = computing_functions()
    functions = [f for family in FAMILIES.values() for f in family]
    assert len(functions) == len(set(functions)), "a function in two families"
    assert set(functions) == public


def test_every_family_has_its_module():
    here = Path(__file__).parent
    for module in FAMILIES:
        assert (here / f"{module}.py").is_file(), module
