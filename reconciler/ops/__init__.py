"""The guarded user operations: each a small function around one etcd transaction that
changes an object only if nobody changed it since it was read, together with the
evaluation that makes the scheduler act on the change.

- `jobs`: submit, scale, revert, evaluate, mark stable; job history.
- `job_stop`: stop and purge a job.
- `deployments`: promote, fail, pause and resume.
- `allocs`: stop an allocation.
- `nodes`: drain and scheduling eligibility, with the evaluation fan-out.
- `evals`: the one constructor of an `Evaluation` outside the scheduler.

The API, the CLI (through the API) and the specs watcher call these; none of them builds
an evaluation or a key by hand.
"""
