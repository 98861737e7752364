"""The java driver (a jar compiled with javac at test time, fetched as an artifact, port
from `-Dport=${NOMAD_PORT_http}`) and the exec driver's isolation and memory limit."""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.request
import zipfile
from pathlib import Path

import pytest

from controllers.driver_runner import NodeAgent, cgroups
from controllers.driver_runner.drivers import JavaDriver, validate_task_config
from reconciler.model.job import SECOND, Artifact, Resources, RestartPolicy, Task
from reconciler.store import Store
from tests.driver_runner.support import event_types, make_alloc, make_job, put_alloc, put_job, wait_status
from tests.waiting import wait_for

JAVA_SRC = """
import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

public class Hello {
    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(System.getProperty("port"));
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
        server.createContext("/", exchange -> {
            byte[] body = ("hello from java " + String.join(",", args)).getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.start();
        System.out.println("listening on " + port);
    }
}
"""


def _build_jar(tmp: Path) -> Path:
    tmp.mkdir(exist_ok=True)
    src = tmp / "Hello.java"
    src.write_text(JAVA_SRC)
    subprocess.run(["javac", "-d", str(tmp / "classes"), str(src)], check=True, capture_output=True)
    jar = tmp / "hello.jar"
    with zipfile.ZipFile(jar, "w") as zf:
        zf.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nMain-Class: Hello\n\n")
        for f in (tmp / "classes").glob("*.class"):
            zf.write(f, f.name)
    return jar


needs_java = pytest.mark.skipif(
    not (shutil.which("java") and shutil.which("javac")), reason="no java/javac on this host"
)


@needs_java
def test_java_jar_serves_http_on_its_port(store: Store, agent: NodeAgent, tmp_path: Path) -> None:
    assert agent.node.drivers.get("java") is True
    assert agent.node.attributes.get("driver.java.version")
    jar = _build_jar(tmp_path / "artifacts")  # a directory the agent lets `file://` read
    task = Task(
        name="hello",
        driver="java",
        config={
            "jar_path": "local/hello.jar",
            "jvm_options": ["-Xmx64m", "-Dport=${NOMAD_PORT_http}"],
            "args": ["${NOMAD_ALLOC_INDEX}"],
        },
        artifacts=[Artifact(source=f"file://{jar}")],
        kill_timeout=5 * SECOND,
    )
    job = make_job("javaweb", tasks=[task])
    put_job(store, job)
    a = put_alloc(store, make_alloc(job, agent.node_id))
    wait_status(store, a.id, "running", timeout=30)
    port = a.ports[0].value

    def fetch() -> bytes | None:
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
        except OSError:
            return None

    assert wait_for(fetch, 30, message="java http") == b"hello from java 0"
    assert "Downloading Artifacts" in event_types(wait_status(store, a.id, "running"), "hello")


def test_java_config_validation() -> None:
    assert validate_task_config("java", {"jar_path": "x.jar"}) == []
    assert validate_task_config("java", {"class": "Main", "class_path": "local"}) == []
    assert "one of 'jar_path' or 'class' is required" in validate_task_config("java", {})
    assert any("unknown config field 'jarpath'" in e for e in validate_task_config("java", {"jarpath": "x"}))
    assert validate_task_config("docker", {}) == ["unknown driver 'docker' (known: raw_exec, exec, java)"]


def test_java_fingerprint_needs_a_jvm_that_answers(tmp_path: Path) -> None:
    d = JavaDriver()
    fake = tmp_path / "java"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    d.java = str(fake)
    assert d.fingerprint().detected is False


needs_exec = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("setpriv"),
    reason="exec needs root, unshare and setpriv",
)
# The chroot has the host's /usr, not the agent's own Python (a virtualenv, pyenv).
HOST_PYTHON = "/usr/bin/python3"


@needs_exec
def test_exec_runs_in_its_own_pid_namespace(store: Store, agent: NodeAgent) -> None:
    task = Task(
        name="t", driver="exec", config={"command": "/bin/sh", "args": ["-c", "echo $$ > /alloc/data/pid"]}
    )
    job = make_job("isolated", tasks=[task], type="batch")
    put_job(store, job)
    a = put_alloc(store, make_alloc(job, agent.node_id))
    wait_status(store, a.id, "complete", timeout=20)
    assert (agent.data_dir / "allocs" / a.id / "alloc" / "data" / "pid").read_text().strip() == "1"


@needs_exec
def test_exec_memory_limit_kills_a_hog(store: Store, agent: NodeAgent) -> None:
    if not os.path.exists(HOST_PYTHON):
        pytest.skip(f"no {HOST_PYTHON} on this host")
    if not cgroups.detect():
        pytest.skip("no writable memory cgroup (v1 or v2) on this host")
    hog = (
        "import time\nblocks=[]\nfor i in range(400):\n    blocks.append(bytearray(1024*1024))\ntime.sleep(5)"
    )
    task = Task(
        name="hog",
        driver="exec",
        config={"command": HOST_PYTHON, "args": ["-c", hog]},
        resources=Resources(cpu=100, memory=40),
    )
    job = make_job(
        "hog", tasks=[task], restart=RestartPolicy(attempts=0, interval=60 * SECOND, delay=0, mode="fail")
    )
    put_job(store, job)
    a = put_alloc(store, make_alloc(job, agent.node_id))
    st = wait_status(store, a.id, "failed", timeout=30)
    term = [e for e in st.task_states["hog"].events if e.type == "Terminated"][-1]
    assert term.details.get("oom_killed") == "true", term
    assert "OOM Killed" in term.message


def test_driver_schemas_agree_with_spec_validation() -> None:
    """Spec validation (reconciler.spec.drivers) and the drivers must accept the same fields."""
    spec_drivers = pytest.importorskip("reconciler.spec.drivers")
    from controllers.driver_runner.drivers import exec as exec_mod
    from controllers.driver_runner.drivers import java as java_mod
    from controllers.driver_runner.drivers import raw_exec as raw_mod

    ours = {"raw_exec": raw_mod.FIELDS, "exec": exec_mod.FIELDS, "java": java_mod.FIELDS}
    for name, fields in ours.items():
        assert set(spec_drivers.DRIVERS[name][0]) == set(fields), name


@pytest.mark.parametrize(
    ("path", "inside"),
    [("/usr/lib/jvm/x/bin/java", True), ("/usr", True), ("/usrx/java", False), ("/opt/jdk/bin/java", False)],
)
def test_the_jvm_must_be_inside_chroot_env(path: str, inside: bool) -> None:
    """The java sandbox binds `chroot_env` only: a JVM elsewhere could not start in it."""
    from controllers.driver_runner.drivers.java import inside_chroot_env

    assert inside_chroot_env(path, ("/bin", "/usr/")) is inside


def test_java_is_unhealthy_with_a_jvm_outside_chroot_env(tmp_path: Path) -> None:
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("setpriv"):
        pytest.skip("the sandbox needs root, unshare and setpriv")
    fake = tmp_path / "java"
    fake.write_text("#!/bin/sh\necho 'openjdk version \"17.0.1\"' >&2\n")
    fake.chmod(0o755)
    d = JavaDriver(chroot_env=("/usr",))
    d.java = str(fake)
    fp = d.fingerprint()
    assert (fp.detected, fp.healthy) == (True, False)
    assert "outside chroot_env" in fp.description
