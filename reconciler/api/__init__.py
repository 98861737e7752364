"""The agent's HTTP API (aiohttp): Nomad-compatible paths and JSON shapes, one module per
resource (jobs, allocations, logs, deployments, evaluations, nodes, services, agent, ui).

`app.make_app(ctx)` builds the application; each module's handlers are module-level and
registered on its `routes` table. Handlers use the helpers of `http` only, call the
operations of `reconciler.ops` for every write, and raise `ApiError` for the client's faults.
"""
