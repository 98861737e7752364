"""Artifacts from a local HTTP server the test starts (archives, checksums, failures, path
escapes) and templates (env rendering, destinations kept in the alloc dir, change_mode)."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from controllers.driver_runner import NodeAgent
from controllers.driver_runner.artifacts import ArtifactError, fetch
from controllers.driver_runner.templates import TemplateError, destination, render
from reconciler.model.job import Artifact, Task, Template
from reconciler.store import Store
from tests.driver_runner.support import PY, event_types, make_alloc, make_job, put_alloc, put_job, wait_status
from tests.fileserver import serve_directory
from tests.waiting import wait_for


def _tar(files: dict[str, bytes], mode: str = "w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()
    with serve_directory(root) as url:
        yield url, root


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    alloc_root = tmp_path / "alloc1"
    task_dir = alloc_root / "web"
    (task_dir / "local").mkdir(parents=True)
    return task_dir, alloc_root


ARCHIVES = {
    "app.tar.gz": lambda f: _tar(f, "w:gz"),
    "app.tgz": lambda f: _tar(f, "w:gz"),
    "app.tar": lambda f: _tar(f, "w"),
    "app.tar.bz2": lambda f: _tar(f, "w:bz2"),
    "app.tar.xz": lambda f: _tar(f, "w:xz"),
    "app.zip": _zip,
}


@pytest.mark.parametrize("name", list(ARCHIVES), ids=[f"unpacks {n}" for n in ARCHIVES])
def test_archives_are_unpacked_into_the_destination(
    server: tuple[str, Path], dirs: tuple[Path, Path], name: str
) -> None:
    url, root = server
    (root / name).write_bytes(ARCHIVES[name]({"bin/run.sh": b"echo hi\n", "README": b"r"}))
    task_dir, alloc_root = dirs
    fetch(Artifact(source=f"{url}/{name}"), task_dir=task_dir, alloc_root=alloc_root)
    assert (task_dir / "local" / "bin" / "run.sh").read_bytes() == b"echo hi\n"


def test_checksum_archive_false_and_mode_file(server: tuple[str, Path], dirs: tuple[Path, Path]) -> None:
    url, root = server
    data = _tar({"a": b"1"})
    (root / "a.tar.gz").write_bytes(data)
    task_dir, alloc_root = dirs
    good = "sha256:" + hashlib.sha256(data).hexdigest()
    fetch(
        Artifact(
            source=f"{url}/a.tar.gz", options={"checksum": good}, archive=False, destination="local/raw"
        ),
        task_dir=task_dir,
        alloc_root=alloc_root,
    )
    assert (task_dir / "local" / "raw" / "a.tar.gz").read_bytes() == data
    md5 = "md5:" + hashlib.md5(data).hexdigest()
    fetch(
        Artifact(
            source=f"{url}/a.tar.gz?checksum={md5}&archive=false", mode="file", destination="local/x.bin"
        ),
        task_dir=task_dir,
        alloc_root=alloc_root,
    )
    assert (task_dir / "local" / "x.bin").read_bytes() == data


@pytest.mark.parametrize(
    ("artifact", "message"),
    [
        (Artifact(source="{url}/missing.tgz"), "bad response code: 404"),
        (Artifact(source="{url}/a.tar.gz", options={"checksum": "sha256:" + "0" * 64}), "checksum mismatch"),
        (Artifact(source="{url}/a.tar.gz", destination="../../etc"), "escapes the allocation directory"),
        (Artifact(source="{url}/evil.tar.gz"), "archive member refused"),
        (Artifact(source="ftp://example.com/x"), "unsupported artifact source scheme"),
    ],
    ids=[
        "404 fails",
        "checksum mismatch fails",
        "destination escape refused",
        "archive member escape refused",
        "unknown scheme refused",
    ],
)
def test_artifact_failures(
    server: tuple[str, Path], dirs: tuple[Path, Path], artifact: Artifact, message: str
) -> None:
    url, root = server
    (root / "a.tar.gz").write_bytes(_tar({"a": b"1"}))
    (root / "evil.tar.gz").write_bytes(_tar({"../../../outside": b"x"}))
    artifact.source = artifact.source.format(url=url)
    task_dir, alloc_root = dirs
    with pytest.raises(ArtifactError, match=message):
        fetch(artifact, task_dir=task_dir, alloc_root=alloc_root, backoff=0.01)
    assert not (alloc_root.parent / "outside").exists()


def test_artifact_in_a_task_and_a_mismatch_fails_it_with_the_event(
    server: tuple[str, Path], store: Store, agent: NodeAgent
) -> None:
    url, root = server
    data = _tar({"app.py": b"print('from artifact')\n"})
    (root / "app.tar.gz").write_bytes(data)
    good = "sha256:" + hashlib.sha256(data).hexdigest()
    ok = Task(
        name="t",
        driver="raw_exec",
        config={"command": PY, "args": ["local/app.py"]},
        artifacts=[Artifact(source=f"{url}/app.tar.gz", options={"checksum": good})],
    )
    job = make_job("art", tasks=[ok], type="batch")
    put_job(store, job)
    a = put_alloc(store, make_alloc(job, agent.node_id))
    st = wait_status(store, a.id, "complete")
    assert event_types(st, "t")[:4] == ["Received", "Task Setup", "Downloading Artifacts", "Started"]
    out = (agent.data_dir / "allocs" / a.id / "alloc" / "logs" / "t.stdout.0").read_text()
    assert out == "from artifact\n"
    bad = Task(
        name="t",
        driver="raw_exec",
        config={"command": PY, "args": ["local/app.py"]},
        artifacts=[Artifact(source=f"{url}/app.tar.gz", options={"checksum": "sha256:" + "1" * 64})],
    )
    job2 = make_job("art2", tasks=[bad], type="batch")
    put_job(store, job2)
    a2 = put_alloc(store, make_alloc(job2, agent.node_id))
    st2 = wait_status(store, a2.id, "failed")
    last = st2.task_states["t"].events[-1]
    assert last.type == "Failed Artifact Download"
    assert "checksum mismatch" in last.message
    assert "Started" not in event_types(st2, "t")


def test_render_env_subset() -> None:
    env = {"NOMAD_PORT_http": "8080"}
    assert render('port={{ env "NOMAD_PORT_http" }} x={{env "NOPE"}}{{/* c */}}', env) == "port=8080 x="
    assert render('a  {{- env "NOMAD_PORT_http" -}}  b', env) == "a8080b"
    assert render('[[ env "NOMAD_PORT_http" ]]', env, left="[[", right="]]") == "8080"
    with pytest.raises(TemplateError, match="unsupported template action"):
        render('{{ key "x" }}', env)


@pytest.mark.parametrize(
    ("dest", "ok"),
    [
        ("local/app.conf", True),
        ("../alloc/shared.conf", True),
        ("secrets/s", True),
        ("../../x", False),
        ("/etc/passwd", False),
    ],
    ids=["task local", "shared alloc dir", "secrets", "parent of alloc dir refused", "absolute refused"],
)
def test_template_destination_stays_in_alloc_dir(dirs: tuple[Path, Path], dest: str, ok: bool) -> None:
    task_dir, alloc_root = dirs
    tpl = Template(data="x", destination=dest)
    if ok:
        assert alloc_root.resolve() in destination(tpl, task_dir=task_dir, alloc_root=alloc_root).parents
    else:
        with pytest.raises(TemplateError):
            destination(tpl, task_dir=task_dir, alloc_root=alloc_root)


def test_template_rendered_before_start_and_change_mode_restart(store: Store, agent: NodeAgent) -> None:
    script = "import time\nprint(open('local/app.conf').read(), flush=True)\ntime.sleep(600)"
    task = Task(
        name="t",
        driver="raw_exec",
        config={"command": PY, "args": ["-c", script]},
        templates=[
            Template(data='port={{ env "NOMAD_PORT_http" }}', destination="local/app.conf"),
            Template(source="local/in.tpl", destination="local/watched.conf", change_mode="restart"),
        ],
        kill_timeout=10**9,
    )
    job = make_job("tpl", tasks=[task])
    put_job(store, job)
    a = make_alloc(job, agent.node_id)
    task_dir = agent.data_dir / "allocs" / a.id / "t"
    (task_dir / "local").mkdir(parents=True)
    (task_dir / "local" / "in.tpl").write_text('v1 {{ env "NOMAD_ALLOC_INDEX" }}')
    put_alloc(store, a)
    wait_status(store, a.id, "running")
    assert (task_dir / "local" / "app.conf").read_text() == f"port={a.ports[0].value}"
    assert (task_dir / "local" / "watched.conf").read_text() == "v1 0"
    (task_dir / "local" / "in.tpl").write_text('v2 {{ env "NOMAD_ALLOC_INDEX" }}')
    from tests.driver_runner.support import get_status

    st = wait_for(
        lambda: (
            (s := get_status(store, a.id))
            and s.task_states["t"].restarts == 1
            and s.task_states["t"].state == "running"
            and s
        ),
        15,
        message="restart after template change",
    )
    assert "Template Re-rendered" in event_types(st, "t")
    assert (task_dir / "local" / "watched.conf").read_text() == "v2 0"


def test_bad_template_fails_the_task(store: Store, agent: NodeAgent) -> None:
    task = Task(
        name="t",
        driver="raw_exec",
        config={"command": PY, "args": ["-c", "pass"]},
        templates=[Template(data="x", destination="../../../escape")],
    )
    job = make_job("badtpl", tasks=[task], type="batch")
    put_job(store, job)
    a = put_alloc(store, make_alloc(job, agent.node_id))
    st = wait_status(store, a.id, "failed")
    assert st.task_states["t"].events[-1].type == "Template Failure"
