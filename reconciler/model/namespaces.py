"""Namespaces as Nomad has them: named objects (`Name`, `Description`, `Meta`) a job must
name one of; `default` always exists and can never be deleted. Each is one key
(`namespaces/<name>`); `default` is there without a key until someone writes one (to give it
a description of its own), so a fresh cluster needs no seeding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DEFAULT = "default"
DEFAULT_DESCRIPTION = "Default shared namespace"
_NAME = re.compile(r"^[a-zA-Z0-9-]{1,128}$")  # Nomad's validNamespaceName
NAME_PATTERN = _NAME.pattern


@dataclass
class Namespace:
    name: str
    description: str = ""
    meta: dict[str, str] = field(default_factory=dict)
    create_time: float = 0.0
    modify_time: float = 0.0


def default_namespace() -> Namespace:
    """`default` as it is before anyone writes it."""
    return Namespace(DEFAULT, DEFAULT_DESCRIPTION)


def name_error(name: str) -> str | None:
    """None for a valid namespace name, else Nomad's complaint about it."""
    if _NAME.fullmatch(name):  # fullmatch: "$" accepts a final "\n"
        return None
    return f'invalid name "{name}". Must match regex {NAME_PATTERN}'
