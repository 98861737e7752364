"""The scheduler: turns a job's desired task groups into allocations on nodes.

Flow: `controller` (leader-elected loop, one job per key) reads its caches, calls
`decide.decide` (pure: `reconcile` buckets, then `placer` with `feasibility`, `rank`,
`ports`), and commits the result through `writer` in guarded batched transactions.
`plan.plan_job` runs the same decision without writing.
"""
