"""reconciler: a Nomad-style workload orchestrator whose desired state lives in etcd.

The core package: job model and spec parsing (`spec`), runtime objects (`model`), the etcd
store (`store`), the controller runtime (`runtime`), the job submission path (`jobs`), the
HTTP API (`api`), the CLI (`cli`) and the agent that wires everything (`agent`).
"""

__version__ = "0.1.0"
