"""The java driver runs in the exec driver's sandbox (review finding H3): a real JVM (a
class compiled with javac at test time, fetched as an artifact) reports, from inside, its
uid, capabilities, no_new_privs, pid and what of the host it can see."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest

from controllers.driver_runner import NodeAgent
from reconciler.api.alloc_exec import run_exec
from reconciler.model.job import Artifact, Task
from reconciler.store import Store
from tests.driver_runner.support import make_alloc, make_job, put_alloc, put_job, wait_status
from tests.waiting import wait_for

pytestmark = pytest.mark.skipif(
    not (shutil.which("java") and shutil.which("javac"))
    or os.geteuid() != 0
    or not shutil.which("unshare")
    or not shutil.which("setpriv"),
    reason="needs java, javac, root, unshare and setpriv",
)

PROBE_SRC = """
import java.nio.file.*;
import java.util.*;

public class Probe {
    public static void main(String[] args) throws Exception {
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(Paths.get("/proc/self/status"))) {
            if (line.matches("^(Uid|CapEff|CapPrm|CapBnd|NoNewPrivs):.*")) out.add(line);
        }
        out.add("pid=" + ProcessHandle.current().pid());
        out.add("root=" + (Files.exists(Paths.get("/root")) ? "visible" : "hidden"));
        out.add("datadir=" + (Files.exists(Paths.get(args[0])) ? "visible" : "hidden"));
        out.add("usr=" + (Files.isWritable(Paths.get("/usr")) ? "writable" : "readonly"));
        out.add("taskdir=" + System.getenv("NOMAD_TASK_DIR"));
        Files.write(Paths.get("/alloc/data/probe.tmp"), out);
        Files.move(Paths.get("/alloc/data/probe.tmp"), Paths.get("/alloc/data/probe"));
    }
}
"""


def _compile(tmp: Path) -> Path:
    tmp.mkdir(exist_ok=True)
    src = tmp / "Probe.java"
    src.write_text(PROBE_SRC)
    subprocess.run(["javac", "-d", str(tmp / "classes"), str(src)], check=True, capture_output=True)
    return tmp / "classes" / "Probe.class"


def _probe(store: Store, agent: NodeAgent, tmp_path: Path, **task_kw: object) -> dict[str, str]:
    cls = _compile(tmp_path / "artifacts")  # a directory the agent lets `file://` read
    task = Task(  # type: ignore[arg-type]
        name="probe",
        driver="java",
        config={
            "class": "Probe",
            "class_path": "local",
            "jvm_options": ["-Xmx32m"],
            "args": [str(agent.data_dir.resolve())],
        },
        artifacts=[Artifact(source=f"file://{cls}")],
        **task_kw,
    )
    job = make_job("javaprobe", tasks=[task], type="batch")
    put_job(store, job)
    a = put_alloc(store, make_alloc(job, agent.node_id))
    wait_status(store, a.id, "complete", timeout=60)
    text = (agent.data_dir / "allocs" / a.id / "alloc" / "data" / "probe").read_text()
    fields: dict[str, str] = {}
    for line in text.splitlines():
        k, _, v = line.replace(":\t", "=").partition("=")
        fields[k] = v.split()[0] if v.split() else ""
    return fields


def test_java_task_runs_sandboxed_as_nobody(store: Store, agent: NodeAgent, tmp_path: Path) -> None:
    f = _probe(store, agent, tmp_path)
    assert f["Uid"] == str(pwd.getpwnam("nobody").pw_uid)
    assert int(f["CapEff"], 16) == 0
    assert int(f["CapPrm"], 16) == 0
    assert int(f["CapBnd"], 16) == 0
    assert f["NoNewPrivs"] == "1"
    assert f["pid"] == "1"
    assert f["root"] == "hidden"
    assert f["datadir"] == "hidden"
    assert f["usr"] == "readonly"
    assert f["taskdir"] == "/local"


def test_java_task_runs_as_its_user(store: Store, agent: NodeAgent, tmp_path: Path) -> None:
    f = _probe(store, agent, tmp_path, user="12345")
    assert f["Uid"] == "12345"
    assert int(f["CapEff"], 16) == 0


SLEEPER_SRC = """
public class Sleeper {
    public static void main(String[] args) throws Exception {
        java.nio.file.Files.write(java.nio.file.Paths.get("/local/started"), new byte[0]);
        Thread.sleep(600_000);
    }
}
"""


def test_alloc_exec_into_a_java_task_runs_inside_its_sandbox(
    store: Store, agent: NodeAgent, tmp_path: Path
) -> None:
    """`alloc exec` into a java task joins its sandbox as for exec (review H5)."""
    src_dir = tmp_path / "artifacts"
    src_dir.mkdir()
    (src_dir / "Sleeper.java").write_text(SLEEPER_SRC)
    subprocess.run(
        ["javac", "-d", str(src_dir), str(src_dir / "Sleeper.java")], check=True, capture_output=True
    )
    task = Task(
        name="sleeper",
        driver="java",
        config={"class": "Sleeper", "class_path": "local", "jvm_options": ["-Xmx32m"]},
        artifacts=[Artifact(source=f"file://{src_dir / 'Sleeper.class'}")],
    )
    job = make_job("javasleeper", tasks=[task])
    put_job(store, job)
    a = put_alloc(store, make_alloc(job, agent.node_id))
    wait_status(store, a.id, "running", timeout=60)
    started = agent.data_dir / "allocs" / a.id / "sleeper" / "local" / "started"
    wait_for(started.exists, 60, message="the JVM started")
    script = "id -u; test -e /root && echo root=visible || echo root=hidden; echo $NOMAD_TASK_DIR"
    out = run_exec(agent.data_dir, a.id, "sleeper", ["/bin/sh", "-c", script], 20)
    assert out["ExitCode"] == 0, out
    assert out["Stdout"].split() == [str(pwd.getpwnam("nobody").pw_uid), "root=hidden", "/local"], out
