"""The router's admin endpoint (Fabio has a UI on :9998): the live table as JSON
(`GET /routes`, also `/api/routes` as Fabio names it), as a small HTML page (`GET /`), and
`GET /health`. A separate port, so no route can shadow it; a plain aiohttp app, since it
serves people and probes, not traffic."""

from __future__ import annotations

import html
import json
from collections.abc import Callable

from aiohttp import web

from controllers.router.table import RouteTable, describe


def text(value: object) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def admin_app(table: Callable[[], RouteTable]) -> web.Application:
    async def routes(request: web.Request) -> web.Response:
        return web.Response(
            text=json.dumps(describe(table()), indent=2) + "\n", content_type="application/json"
        )

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="OK\n")

    async def page(request: web.Request) -> web.Response:
        rows = []
        for r in describe(table()):
            cells = [
                text(r["host"]) or "*",
                text(r["path"]),
                text(r["service"]),
                text(r.get("options", "")),
                text(r["targets"]) or "(no healthy instance)",
                text(r.get("errors", "")),
            ]
            rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
        body = (
            "<!doctype html><meta charset=utf-8><title>routes</title>"
            "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:left}</style>"
            "<h1>Routes</h1><table><tr><th>host</th><th>path</th><th>service</th><th>options</th>"
            "<th>targets</th><th>problems</th></tr>" + "".join(rows) + "</table>"
            '<p><a href="/routes">JSON</a></p>'
        )
        return web.Response(text=body, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/routes", routes)
    app.router.add_get("/api/routes", routes)
    app.router.add_get("/health", health)
    return app
