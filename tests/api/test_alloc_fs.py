"""The client file system API (`/v1/client/fs/...`) over a real allocation directory, through
python-nomad and plain HTTP: what Nomad answers, and every way out of the directory refused."""

from __future__ import annotations

import base64
import json
import os
import urllib.parse
import urllib.request
from dataclasses import replace
from pathlib import Path

import nomad
import pytest
from click.testing import CliRunner

from reconciler.cli.main import cli
from reconciler.model.alloc_dir import AllocDir
from reconciler.model.objects import Node
from reconciler.store import Store
from tests.api.conftest import Seeded
from tests.api.server import ApiServer, make_server
from tests.waiting import wait_for


@pytest.fixture
def adir(tmp_path: Path, seeded: Seeded) -> AllocDir:
    d = AllocDir(tmp_path, seeded.alloc_id)
    d.build(["web"])
    (d.local_dir("web") / "index.html").write_text("<h1>hello</h1>\n")
    (d.shared / "data" / "numbers.txt").write_bytes(b"0123456789")
    (d.secrets_dir("web") / "token").write_text("s3cret")
    (d.state / "web.spec").write_bytes(b"private")
    outside = tmp_path / "outside.txt"
    outside.write_text("not yours")
    os.symlink(outside, d.local_dir("web") / "escape")
    os.symlink("index.html", d.local_dir("web") / "alias.html")
    return d


@pytest.fixture
def client(api: ApiServer) -> nomad.Nomad:
    return nomad.Nomad(host="127.0.0.1", port=api.port, timeout=10)


def test_ls_lists_the_allocation_root_without_the_agents_state(
    client: nomad.Nomad, seeded: Seeded, adir: AllocDir
) -> None:
    root = client.client.ls.list_files(seeded.alloc_id, path="/")
    assert [(e["Name"], e["IsDir"]) for e in root] == [("alloc", True), ("web", True)]
    assert root[0]["FileMode"].startswith("d")
    assert root[0]["ModTime"].endswith("Z")
    local = client.client.ls.list_files(seeded.alloc_id, path="/web/local")
    assert [e["Name"] for e in local] == ["alias.html", "escape", "index.html"]
    index = next(e for e in local if e["Name"] == "index.html")
    assert (index["IsDir"], index["Size"], index["FileMode"][:3]) == (False, 15, "-rw")


def test_stat_cat_and_readat(client: nomad.Nomad, seeded: Seeded, adir: AllocDir) -> None:
    st = client.client.stat.stat_file(seeded.alloc_id, path="/web/local/index.html")
    assert (st["Name"], st["IsDir"], st["Size"], st["ContentType"]) == ("index.html", False, 15, "text/html")
    assert client.client.stat.stat_file(seeded.alloc_id, path="/alloc")["IsDir"] is True
    assert client.client.cat.read_file(seeded.alloc_id, path="/web/local/index.html") == "<h1>hello</h1>\n"
    assert client.client.cat.read_file(seeded.alloc_id, path="web/local/alias.html") == "<h1>hello</h1>\n"
    got = client.client.read_at.read_file_offset(seeded.alloc_id, 3, 4, path="/alloc/data/numbers.txt")
    assert got == "3456"
    assert (
        client.client.read_at.read_file_offset(seeded.alloc_id, 8, 100, path="/alloc/data/numbers.txt")
        == "89"
    )


@pytest.mark.parametrize(
    "path",
    [
        "/../outside.txt",
        "../../etc/passwd",
        "/web/local/escape",
        "/.state/web.spec",
        "/.state",
        "/web/secrets/token",
        "/web/secrets",
        "/web/local/../../../outside.txt",
        "/alloc/\x00x",
    ],
)
@pytest.mark.parametrize("op", ["ls", "stat", "cat", "readat", "stream"])
def test_escapes_are_refused_with_400(
    api: ApiServer, seeded: Seeded, adir: AllocDir, path: str, op: str
) -> None:
    query = urllib.parse.urlencode({"path": path, "offset": 0, "limit": 10, "follow": "false"})
    status, _, body = api.get(f"/v1/client/fs/{op}/{seeded.alloc_id}?{query}")
    assert status == 400, (status, body)
    assert "not yours" not in json.dumps(body)
    assert "s3cret" not in json.dumps(body)


def test_missing_files_and_directories_as_files(api: ApiServer, seeded: Seeded, adir: AllocDir) -> None:
    assert api.get(f"/v1/client/fs/stat/{seeded.alloc_id}?path=/nope")[0] == 404
    assert api.get(f"/v1/client/fs/cat/{seeded.alloc_id}?path=/alloc")[0] == 400
    assert api.get(f"/v1/client/fs/ls/{seeded.alloc_id}?path=/alloc/data/numbers.txt")[0] == 400
    assert api.get(f"/v1/client/fs/readat/{seeded.alloc_id}?path=/alloc/data/numbers.txt&offset=x")[0] == 400


def test_an_allocation_without_a_directory_here_is_404(api: ApiServer, seeded: Seeded) -> None:
    status, headers, _ = api.get(f"/v1/client/fs/ls/{seeded.alloc_id}?path=/")
    assert status == 404
    assert headers["X-Nomad-Index"].isdigit()


def _frames(api: ApiServer, query: str) -> list[dict[str, object]]:
    with urllib.request.urlopen(api.address + query, timeout=10) as resp:
        return [json.loads(line) for line in resp.read().splitlines() if line.strip()]


def test_stream_sends_frames_from_an_offset_or_the_end(
    api: ApiServer, seeded: Seeded, adir: AllocDir
) -> None:
    base = f"/v1/client/fs/stream/{seeded.alloc_id}?path=/alloc/data/numbers.txt&follow=false"
    frames = _frames(api, base + "&offset=4")
    assert b"".join(base64.b64decode(str(f["Data"])) for f in frames) == b"456789"
    assert frames[-1]["Offset"] == 10
    assert frames[-1]["File"] == "alloc/data/numbers.txt"
    tail = _frames(api, base + "&offset=3&origin=end")
    assert b"".join(base64.b64decode(str(f["Data"])) for f in tail) == b"789"


def _cli(api: ApiServer, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["--address", api.address, "alloc", "fs", *args])
    return res.exit_code, res.output


def test_alloc_fs_cli_lists_cats_and_stats(api: ApiServer, seeded: Seeded, adir: AllocDir) -> None:
    code, out = _cli(api, seeded.alloc_id, "/web/local")
    assert code == 0, out
    assert out.splitlines()[0].split() == ["Mode", "Size", "Modified", "Time", "Name"]
    assert "index.html" in out
    assert "15 B" in out
    assert _cli(api, seeded.alloc_id, "web/local/index.html") == (0, "<h1>hello</h1>\n")
    code, out = _cli(api, "-stat", seeded.alloc_id, "/alloc")
    assert code == 0
    assert "alloc/" in out
    code, out = _cli(api, seeded.alloc_id, "/web/secrets/token")
    assert code != 0
    assert "s3cret" not in out


def test_an_agent_without_the_directory_forwards_to_the_allocations_node(
    api: ApiServer, store: Store, seeded: Seeded, tmp_path: Path
) -> None:
    """The allocation's directory is on another agent (its node's HTTPAddr): this one
    streams that agent's answers back, escapes are still refused there."""
    other = make_server(store, tmp_path / "other-node")
    try:
        d = AllocDir(tmp_path / "other-node", seeded.alloc_id)
        d.build(["web"])
        (d.local_dir("web") / "remote.txt").write_text("from the other node")
        node = store.get(store.keys.node(seeded.node_id), Node)
        assert node is not None
        store.put(store.keys.node(seeded.node_id), replace(node.value, http_addr=f"127.0.0.1:{other.port}"))
        ls_path = f"/v1/client/fs/ls/{seeded.alloc_id}?path=/web/local"
        wait_for(lambda: api.get(ls_path)[0] == 200, 10, message="the node's address is cached")
        assert [e["Name"] for e in api.get(ls_path)[2]] == ["remote.txt"]
        cat = api.exchange("GET", f"/v1/client/fs/cat/{seeded.alloc_id}?path=/web/local/remote.txt")
        assert (cat[0], cat[2]) == (200, "from the other node")
        assert api.get(f"/v1/client/fs/cat/{seeded.alloc_id}?path=/../x")[0] == 400
        assert api.get(f"/v1/client/allocation/{seeded.alloc_id}/stats")[0] == 200
    finally:
        other.stop()
