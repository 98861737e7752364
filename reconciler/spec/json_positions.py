"""Line and column of a JSON path (`Job.TaskGroups[0].Count`) in a JSON job file.

Python's json module keeps no positions, so when the Nomad JSON reader reports an issue
the loader re-reads the text with ruamel.yaml (JSON is YAML) only to place that issue on
its line. If the text cannot be read that way the issue keeps no line.
"""

from __future__ import annotations

import re
from typing import Any

from ruamel.yaml import YAML

from reconciler.spec.errors import NOWHERE, Pos

_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def _steps(path: str) -> list[str | int]:
    steps: list[str | int] = []
    for key, index in _STEP.findall("." + path):
        steps.append(int(index) if index else key)
    return steps


def locate(text: str, path: str) -> Pos:
    """Where the value at `path` is written in `text` (NOWHERE if unknown)."""
    try:
        node: Any = YAML(typ="rt").load(text)
    except Exception:  # ruamel rejects some valid JSON; positions are a courtesy
        return NOWHERE
    steps = _steps(path)
    if steps and isinstance(node, dict) and steps[0] == "Job" and "Job" not in node:
        steps = steps[1:]  # the bare job object
    pos = NOWHERE
    for step in steps:
        holder: Any = node  # ruamel's CommentedMap / CommentedSeq, which carry `.lc`
        try:
            if isinstance(step, int) and isinstance(node, list) and step < len(node):
                line, col = holder.lc.item(step)
                node = node[step]
            elif isinstance(step, str) and isinstance(node, dict) and step in node:
                line, col = holder.lc.key(step)
                node = node[step]
            else:
                break
        except (AttributeError, KeyError, TypeError, IndexError):
            break
        pos = Pos(line + 1, col + 1)
    return pos
