"""What the agent starts and stops: anything with start()/stop()."""

from __future__ import annotations

from typing import Protocol


class Component(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...
