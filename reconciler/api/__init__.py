"""The agent's HTTP API (aiohttp): Nomad-compatible paths and JSON shapes.

`app.make_app(ctx)` builds the application from route modules, each exposing
`routes(ctx) -> list[web.RouteDef]`. Handlers raise `ApiError` for the client's faults.
"""
