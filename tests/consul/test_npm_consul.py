"""The Consul face driven by a client others wrote in another language: the npm registry's
`consul` package on Node.js, over real etcd. Catalog services, health with `passing`, KV
put/get, and a blocking watch (the package's `consul.watch`, long-polling with `?index=`)
that returns when the key changes.

The package is installed once into `.venv/npm-consul` (`npm install consul@2`); without
node, npm or the npm registry the test skips and says which."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler.model.services import CheckState
from reconciler.store import Store
from tests.consul.conftest import ConsulServer
from tests.consul.test_consul_client import ALLOC_A, ALLOC_B, check, register
from tests.waiting import wait_for

NPM_DIR = Path(sys.prefix) / "npm-consul"
PACKAGE = "consul@2"

# Reads one command per stdin line, answers one JSON line per command (or per watch change).
SCRIPT = r"""
const Consul = require("consul");
const readline = require("readline");
const consul = new Consul({ host: "127.0.0.1", port: Number(process.argv[2]) });
const say = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const commands = {
  async services() { return await consul.catalog.service.list(); },
  async passing() {
    const rows = await consul.health.service({ service: "todo", passing: true });
    return rows.map((r) => ({ node: r.Node.Node, port: r.Service.Port, tags: r.Service.Tags }));
  },
  async put(key, value) { return await consul.kv.set(key, value); },
  async get(key) { const e = await consul.kv.get(key); return e ? { key: e.Key, value: e.Value } : null; },
  async watch(key) {
    const w = consul.watch({ method: consul.kv.get, options: { key, wait: "30s" } });
    let n = 0;
    w.on("change", (data, res) => {
      say({ watch: n++, value: data ? data.Value : null, index: res.headers["x-consul-index"] });
      if (n === 2) w.end();
    });
    w.on("error", (err) => say({ error: String(err) }));
    return "watching";
  },
};
readline.createInterface({ input: process.stdin }).on("line", async (line) => {
  const [name, ...args] = JSON.parse(line);
  try { say({ [name]: await commands[name](...args) }); }
  catch (err) { say({ error: `${name}: ${err}` }); }
});
"""


def _installed() -> Path:
    """The package's node_modules, installed on first use; skips with the reason when it cannot be."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the npm consul client test")
    modules = NPM_DIR / "node_modules"
    if not (modules / "consul" / "package.json").exists():
        NPM_DIR.mkdir(parents=True, exist_ok=True)
        try:
            out = subprocess.run(
                ["npm", "install", "--prefix", str(NPM_DIR), "--no-audit", "--no-fund", PACKAGE],
                capture_output=True,
                text=True,
                timeout=240,
            )
        except subprocess.TimeoutExpired:
            pytest.skip(f"npm install {PACKAGE} timed out (is the npm registry reachable?)")
        if out.returncode != 0:
            pytest.skip(f"npm install {PACKAGE} failed (is the npm registry reachable?): {out.stderr[-500:]}")
    return modules


class NodeClient:
    def __init__(self, script: Path, modules: Path, port: int) -> None:
        self.proc = subprocess.Popen(
            ["node", str(script), str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={"NODE_PATH": str(modules), "PATH": "/usr/local/bin:/usr/bin:/bin"},
        )

    def send(self, *command: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"node exited: {self.proc.stderr.read() if self.proc.stderr else ''}"
        out: dict[str, Any] = json.loads(line)
        assert "error" not in out, out
        return out

    def ask(self, *command: Any) -> Any:
        self.send(*command)
        return self.read()[command[0]]

    def close(self) -> None:
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()
        self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def node_client(server: ConsulServer, tmp_path: Path) -> Any:
    modules = _installed()
    script = tmp_path / "client.js"
    script.write_text(SCRIPT)
    c = NodeClient(script, modules, server.port)
    yield c
    c.close()


def test_the_npm_consul_client_reads_the_catalog_health_and_kv(
    node_client: NodeClient, store: Store, server: ConsulServer
) -> None:
    register(store, ALLOC_A, 8081, tags=["urlprefix-/todo"])
    register(store, ALLOC_B, 8082, tags=["urlprefix-/todo"])
    check(store, ALLOC_A, CheckState.PASSING)
    check(store, ALLOC_B, CheckState.CRITICAL)
    wait_for(lambda: len(server.watched.checks.list()) == 2, message="the caches")

    services = node_client.ask("services")
    assert services["todo"] == ["urlprefix-/todo"]
    passing = node_client.ask("passing")
    assert passing == [{"node": "test-node", "port": 8081, "tags": ["urlprefix-/todo"]}]

    assert node_client.ask("put", "config/todo/greeting", "hello") is True
    assert node_client.ask("get", "config/todo/greeting") == {"key": "config/todo/greeting", "value": "hello"}
    assert node_client.ask("get", "config/todo/missing") is None


def test_the_npm_consul_watch_returns_on_a_change(node_client: NodeClient, server: ConsulServer) -> None:
    assert node_client.ask("put", "flags/todo", "off") is True
    assert node_client.ask("watch", "flags/todo") == "watching"
    first = node_client.read()  # the watch's first answer: the current value, not blocked
    assert (first["watch"], first["value"]) == (0, "off")
    # the watch is now blocked on ?index=<first index>; a write from another client wakes it
    node_client.send("put", "flags/todo", "on")
    answers = [node_client.read(), node_client.read()]
    change = next(a for a in answers if "watch" in a)
    assert (change["watch"], change["value"]) == (1, "on")
    assert int(change["index"]) > int(first["index"])
