"""Runtime objects stored in etcd beside jobs: allocations, their observed status, nodes,
evaluations, deployments. Each is a plain data class; `reconciler.codec` turns any of them
into the JSON that one etcd key holds and back."""
