"""Logs (rotation, the fs/logs API with follow) and the alloc CLI against a running agent."""

from __future__ import annotations

import base64
import json
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from controllers.driver_runner import NodeAgent
from controllers.driver_runner.executor import LogRotator
from reconciler.cli.main import cli
from reconciler.model.alloc_dir import log_files, read_logs, tail_lines
from reconciler.model.job import LogConfig, Task
from reconciler.model.objects import Allocation
from reconciler.store import Store
from tests.api.server import make_server
from tests.driver_runner.support import (
    PY,
    event_types,
    get_status,
    make_alloc,
    make_job,
    put_alloc,
    put_job,
    wait_status,
)
from tests.waiting import wait_for


def test_log_rotator_keeps_max_files_and_continues_numbering(tmp_path: Path) -> None:
    r = LogRotator(str(tmp_path), "web", "stdout", max_files=3, max_size=10)
    r.write(b"0123456789" * 5 + b"abc")
    r.close()
    files = log_files(tmp_path, "web", "stdout")
    assert [f.name for f in files] == ["web.stdout.3", "web.stdout.4", "web.stdout.5"]
    assert files[-1].read_bytes() == b"abc"
    r2 = LogRotator(str(tmp_path), "web", "stdout", max_files=3, max_size=10)
    r2.write(b"defghijklmn")
    r2.close()
    assert [f.name for f in log_files(tmp_path, "web", "stdout")] == [
        "web.stdout.4",
        "web.stdout.5",
        "web.stdout.6",
    ]
    assert read_logs(log_files(tmp_path, "web", "stdout"), origin="end", offset=4).data == b"klmn"


@pytest.mark.parametrize(
    ("origin", "offset", "expected"),
    [("start", 0, b"aaabbbcc"), ("start", 4, b"bbcc"), ("end", 3, b"bcc"), ("end", 100, b"aaabbbcc")],
    ids=["whole", "skip-into-second-file", "last-three-bytes", "end-beyond-start"],
)
def test_read_logs_across_files(tmp_path: Path, origin: str, offset: int, expected: bytes) -> None:
    for i, data in enumerate([b"aaa", b"bbb", b"cc"]):
        (tmp_path / f"t.stdout.{i}").write_bytes(data)
    assert read_logs(log_files(tmp_path, "t", "stdout"), origin=origin, offset=offset).data == expected


def test_tail_lines() -> None:
    assert tail_lines(b"a\nb\nc\n", 2) == b"b\nc\n"
    assert tail_lines(b"a\nb", 5) == b"a\nb"


@pytest.fixture
def api(store: Store, agent: NodeAgent) -> Iterator[str]:
    server = make_server(store, agent.data_dir)
    yield server.address
    server.stop()


def _run_cli(api: str, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["--address", api, "alloc", *args])
    return res.exit_code, res.output


TICKER = textwrap.dedent(
    """\
    import sys,time
    for i in range(100000):
        print(f'line {i}', flush=True)
        print(f'err {i}', file=sys.stderr, flush=True)
        time.sleep(0.05)"""
)


def _start_ticker(store: Store, agent: NodeAgent) -> Allocation:
    task = Task(
        name="t", driver="raw_exec", config={"command": PY, "args": ["-c", TICKER]}, kill_timeout=10**9
    )
    job = make_job("ticker", tasks=[task])
    put_job(store, job)
    a = put_alloc(store, make_alloc(job, agent.node_id))
    wait_status(store, a.id, "running")
    return a


def test_logs_api_plain_framed_and_follow(store: Store, agent: NodeAgent, api: str) -> None:
    a = _start_ticker(store, agent)
    url = f"{api}/v1/client/fs/logs/{a.id[:8]}?task=t&type=stdout&plain=true"
    wait_for(lambda: b"line 2" in urllib.request.urlopen(url).read(), 10, message="three lines")
    body = urllib.request.urlopen(url).read()
    assert body.startswith(b"line 0\nline 1\n")
    err = urllib.request.urlopen(f"{api}/v1/client/fs/logs/{a.id}?task=t&type=stderr&plain=true").read()
    assert err.startswith(b"err 0\n")
    end = urllib.request.urlopen(
        f"{api}/v1/client/fs/logs/{a.id}?task=t&origin=end&offset=3&plain=true"
    ).read()
    assert len(end) == 3
    assert end.endswith(b"\n")
    framed = urllib.request.urlopen(f"{api}/v1/client/fs/logs/{a.id}?task=t").read()
    frame = json.loads(framed.splitlines()[0])
    assert frame["File"] == "alloc/logs/t.stdout.0"
    assert base64.b64decode(frame["Data"]).startswith(b"line 0\n")
    # follow: new lines keep arriving on the open stream
    with urllib.request.urlopen(
        f"{api}/v1/client/fs/logs/{a.id}?task=t&follow=true&plain=true&origin=end&offset=0"
    ) as resp:
        got = b""
        while got.count(b"\n") < 3:
            got += resp.read1(4096)
    assert b"line" in got
    bad = urllib.request.Request(f"{api}/v1/client/fs/logs/{a.id}?task=../x&plain=true")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(bad)
    assert info.value.code == 400


def test_alloc_cli_status_logs_restart_exec_stop(store: Store, agent: NodeAgent, api: str) -> None:
    a = _start_ticker(store, agent)
    wait_for(
        lambda: (
            log_files(agent.data_dir / "allocs" / a.id / "alloc" / "logs", "t", "stdout")
            and b"line 3"
            in log_files(agent.data_dir / "allocs" / a.id / "alloc" / "logs", "t", "stdout")[0].read_bytes()
        ),
        10,
        message="lines",
    )
    code, out = _run_cli(api, "status", a.id[:8])
    assert code == 0, out
    assert 'Task "t" is "running"' in out
    assert "Started" in out
    assert "Client Status" in out
    code, out = _run_cli(api, "logs", a.id[:8], "t")
    assert code == 0, out
    assert out.startswith("line 0\n"), out
    code, out = _run_cli(api, "logs", "-stderr", "-tail", "-n", "2", a.id[:8])
    assert code == 0, out
    assert out.count("\n") == 2, out
    assert out.startswith("err "), out
    code, out = _run_cli(
        api,
        "exec",
        a.id[:8],
        "--",
        PY,
        "-c",
        "import os;print(os.getcwd());print(os.environ['NOMAD_TASK_NAME'])",
    )
    assert code == 0, out
    assert out.splitlines() == [str(agent.data_dir / "allocs" / a.id / "t"), "t"]
    pid = get_status(store, a.id).task_states["t"].pid  # type: ignore[union-attr]
    code, out = _run_cli(api, "restart", a.id[:8], "t")
    assert code == 0, out
    st = wait_for(
        lambda: (
            (s := get_status(store, a.id))
            and s.task_states["t"].pid not in (0, pid)
            and s.task_states["t"].state == "running"
            and s
        ),
        15,
        message="restarted",
    )
    assert "Restart Signaled" in event_types(st, "t")
    assert st.task_states["t"].restarts == 1
    code, out = _run_cli(api, "stop", a.id[:8])
    assert code == 0, out
    st = wait_status(store, a.id, "complete")
    assert event_types(st, "t")[-1] == "Killed"
    code, out = _run_cli(api, "status", "ffffffff")
    assert code == 1
    assert "not found" in out


def test_logs_rotate_per_logs_stanza(store: Store, agent: NodeAgent) -> None:
    script = "import sys\nfor i in range(3):\n    sys.stdout.write('x' * (1024 * 1024))\nsys.stdout.flush()"
    task = Task(
        name="t",
        driver="raw_exec",
        config={"command": PY, "args": ["-c", script]},
        logs=LogConfig(max_files=2, max_file_size=1),
    )
    job = make_job("rot", tasks=[task], type="batch")
    put_job(store, job)
    a = put_alloc(store, make_alloc(job, agent.node_id))
    wait_status(store, a.id, "complete")
    files = log_files(agent.data_dir / "allocs" / a.id / "alloc" / "logs", "t", "stdout")
    assert [f.name for f in files] == ["t.stdout.1", "t.stdout.2"]
    assert [f.stat().st_size for f in files] == [1024 * 1024, 1024 * 1024]


def test_follow_streams_across_rotation_without_gaps_or_repeats(
    store: Store, agent: NodeAgent, api: str
) -> None:
    script = (
        "import sys,time\nfor i in range(30000):\n    sys.stdout.write(f'{i:099d}\\n')\n"
        "    if i % 5000 == 0: sys.stdout.flush(); time.sleep(0.1)\nsys.stdout.flush()\ntime.sleep(0.5)"
    )
    task = Task(
        name="t",
        driver="raw_exec",
        config={"command": PY, "args": ["-c", script]},
        logs=LogConfig(max_files=10, max_file_size=1),
    )
    job = make_job("rotfollow", tasks=[task], type="batch")
    put_job(store, job)
    a = put_alloc(store, make_alloc(job, agent.node_id))
    wait_status(store, a.id, "running")
    with urllib.request.urlopen(
        f"{api}/v1/client/fs/logs/{a.id}?task=t&follow=true&plain=true", timeout=30
    ) as resp:
        body = resp.read()
    lines = body.decode().splitlines()
    assert lines == [f"{i:099d}" for i in range(30000)]
    assert len(log_files(agent.data_dir / "allocs" / a.id / "alloc" / "logs", "t", "stdout")) == 3
