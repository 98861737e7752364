"""The driver runner: the node agent that turns this node's allocations into processes.

Flow: `agent.NodeAgent` (registration, heartbeat, allocation watch) -> `alloc_runner`
(directory, group rules, AllocStatus) -> `task_runner` (setup, start, restart, kill) ->
`drivers/*` (what to run) -> `handles` + `executor` (the process, its logs, re-attach).
"""

from controllers.driver_runner.agent import NodeAgent

__all__ = ["NodeAgent"]
