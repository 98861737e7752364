"""The `reconciler` console script: every command module, imported by name so that a broken
module fails the CLI at once instead of its commands silently vanishing."""

from __future__ import annotations

# Each import registers its commands on the groups of reconciler.cli.groups.
from reconciler.cli import (  # noqa: F401
    acl_cmds,
    agent_cmd,
    alloc_cmds,
    controller_cmd,
    deployment_cmds,
    eval_cmds,
    event_cmds,
    history_cmds,
    init_cmd,
    job_cmds,
    job_list_cmds,
    launch_cmds,
    node_cmds,
    operator_cmds,
    restart_cmd,
    router_cmd,
    service_cmds,
    spec_cmds,
    system_cmds,
)
from reconciler.cli.groups import cli


def main() -> None:
    cli(prog_name="reconciler")


if __name__ == "__main__":
    main()
