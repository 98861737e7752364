"""The `reconciler` console script: imports every command module and runs the group."""

from __future__ import annotations

import importlib

from reconciler.cli.groups import cli

COMMAND_MODULES = [
    "reconciler.cli.agent_cmd",
    "reconciler.cli.job_cmds",
    "reconciler.cli.spec_cmds",
    "reconciler.cli.sched_cmds",
    "reconciler.cli.alloc_cmds",
    "reconciler.cli.deployment_cmds",
    "reconciler.cli.service_cmds",
    "reconciler.cli.router_cmd",
]

for _name in COMMAND_MODULES:
    try:
        importlib.import_module(_name)
    except ModuleNotFoundError as _exc:
        if _exc.name != _name:
            raise


def main() -> None:
    cli(prog_name="reconciler")


if __name__ == "__main__":
    main()
