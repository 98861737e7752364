"""The garbage collector's thresholds as flags of the processes that run it (`agent`,
`controller gc`), in Nomad's names and Go durations (`--job-gc-threshold 4h`); the agent's
configuration file sets the same in `server { job_gc_threshold = "4h" }`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from reconciler.model.gc_policy import GcThresholds
from reconciler.spec.durations import parse_duration

F = TypeVar("F", bound=Callable[..., Any])


class Duration(click.ParamType[float]):
    """A Go duration ("4h", "90m", "30s") in seconds."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, int | float):
            return float(value)
        ns = parse_duration(str(value))
        if ns is None or ns < 0:
            self.fail(f"{value!r} is not a duration such as 4h, 90m or 30s", param, ctx)
        return ns / 1e9


_DEFAULTS = GcThresholds()
_FLAGS = (
    ("--eval-gc-threshold", _DEFAULTS.eval, "finished evaluations (and stopped allocations)"),
    ("--deployment-gc-threshold", _DEFAULTS.deployment, "ended deployments"),
    ("--job-gc-threshold", _DEFAULTS.job, "dead jobs"),
    ("--node-gc-threshold", _DEFAULTS.node, "down nodes"),
)


def gc_options(f: F) -> F:
    for flag, default, what in reversed(_FLAGS):
        f = click.option(
            flag,
            type=Duration(),
            default=default,
            show_default=f"{default / 3600:g}h",
            help=f"How long {what} are kept before garbage collection.",
        )(f)
    return f


def thresholds(
    eval_gc_threshold: float,
    deployment_gc_threshold: float,
    job_gc_threshold: float,
    node_gc_threshold: float,
) -> GcThresholds:
    return GcThresholds(eval_gc_threshold, deployment_gc_threshold, job_gc_threshold, node_gc_threshold)
