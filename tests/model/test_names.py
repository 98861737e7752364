"""The name rules that guard keys and paths, as plain functions: a final newline is refused
everywhere (a regular expression's "$" alone would accept it, and the name would become a
key with a newline in it)."""

from __future__ import annotations

import pytest

from reconciler.model import namespaces, node_pools
from reconciler.model.ids import is_valid_name


@pytest.mark.parametrize(
    ("name", "valid"),
    [("web", True), ("web-1.a_b", True), ("web\n", False), ("\nweb", False), ("we b", False), ("", False)],
)
def test_the_name_rules_agree(name: str, valid: bool) -> None:
    assert is_valid_name(name) is valid
    assert (namespaces.name_error(name) is None) is (valid and "." not in name and "_" not in name)
    assert (node_pools.name_error(name) is None) is (valid and "." not in name)
