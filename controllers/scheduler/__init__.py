"""The scheduler: turns a job's desired task groups into allocations on nodes.

Flow: `controller` (leader-elected loop, one job per key) reads its caches, runs
`decide.decide_batches` (pure: `reconcile` buckets, then `placer` with `feasibility`, `rank`,
`ports`), writes each batch it yields through `writer` in guarded transactions, then the
evaluations `evals` decides on. `plan.plan_job` runs the same decision without writing.
The modules import downward only (an import-linter `layers` contract, pyproject.toml).
"""
