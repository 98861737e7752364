"""The exec driver's sandbox (review finding H3), on a real agent running real tasks as
root: a chroot of read-only host directories plus the allocation's own at Nomad's paths,
its own PID, mount, IPC and UTS namespaces, the task's user (`nobody` by default) with no
capabilities and no_new_privs."""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path

import pytest

from controllers.driver_runner import NodeAgent
from controllers.driver_runner.drivers.exec import CHROOT_ENV, ExecDriver
from controllers.registrar import Registrar
from reconciler.api.alloc_exec import run_exec
from reconciler.model.job import SECOND, Check, RestartPolicy, Service, Task
from reconciler.model.objects import HostVolume
from reconciler.model.services import CheckStatus
from reconciler.model.volumes import VolumeMount, VolumeRequest
from reconciler.store import Store
from tests.driver_runner.support import make_alloc, make_job, put_alloc, put_job, wait_status
from tests.waiting import wait_for

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("setpriv"),
    reason="the exec sandbox needs root, unshare and setpriv (util-linux)",
)

PROBE = """
out=/alloc/data/probe
{{
  echo "uid=$(id -u)"
  grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs):' /proc/self/status
  ls /root >/dev/null 2>&1 && echo "root=visible" || echo "root=hidden"
  test -e {data_dir} && echo "datadir=visible" || echo "datadir=hidden"
  echo "uts=$(readlink /proc/self/ns/uts)"
  echo "ipc=$(readlink /proc/self/ns/ipc)"
  echo "mnt=$(readlink /proc/self/ns/mnt)"
  echo "taskdir=$NOMAD_TASK_DIR allocdir=$NOMAD_ALLOC_DIR secretsdir=$NOMAD_SECRETS_DIR"
  touch /usr/sandbox-probe 2>/dev/null && echo "usr=writable" || echo "usr=readonly"
  echo local > /local/written && echo "local=ok"
  echo tmp > /tmp/written && echo "tmp=ok"
}} > $out.tmp
mv $out.tmp $out
"""


def _run(store: Store, agent: NodeAgent, script: str, **task_kw: object) -> Path:
    task = Task(name="t", driver="exec", config={"command": "/bin/sh", "args": ["-c", script]}, **task_kw)  # type: ignore[arg-type]
    job = make_job("sandboxed", tasks=[task], type="batch")
    put_job(store, job)
    a = put_alloc(store, make_alloc(job, agent.node_id))
    wait_status(store, a.id, "complete", timeout=30)
    return agent.data_dir / "allocs" / a.id


def _fields(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        for word in line.replace(":\t", "=").split():
            k, _, v = word.partition("=")
            out[k] = v
    return out


def test_exec_task_is_sandboxed(store: Store, agent: NodeAgent) -> None:
    root = _run(store, agent, PROBE.format(data_dir=agent.data_dir.resolve()))
    f = _fields((root / "alloc" / "data" / "probe").read_text())
    assert f["uid"] == str(pwd.getpwnam("nobody").pw_uid)
    assert int(f["CapEff"], 16) == 0
    assert int(f["CapPrm"], 16) == 0
    assert int(f["CapBnd"], 16) == 0
    assert f["NoNewPrivs"] == "1"
    assert f["root"] == "hidden"
    assert f["datadir"] == "hidden"
    for ns in ("uts", "ipc", "mnt"):
        assert f[ns] != os.readlink(f"/proc/self/ns/{ns}"), ns
    assert (f["taskdir"], f["allocdir"], f["secretsdir"]) == ("/local", "/alloc", "/secrets")
    assert f["usr"] == "readonly"
    assert not os.path.exists("/usr/sandbox-probe")
    assert f["local"] == "ok"
    assert (root / "t" / "local" / "written").read_text() == "local\n"
    assert f["tmp"] == "ok"
    assert (root / "t" / "tmp" / "written").read_text() == "tmp\n"


def test_exec_task_as_root_changes_neither_hostname_nor_sysctls(store: Store, agent: NodeAgent) -> None:
    """Even as uid 0 (`user = "root"`) a task has no capabilities: `sethostname` is refused
    (its UTS namespace is its own anyway, see above), and /proc/sys, writable by file mode
    alone, is read-only in the sandbox, so host-wide sysctls stay as they are."""
    before = os.uname().nodename
    script = (
        "hostname sandbox-probe 2>/dev/null && echo hostname=set || echo hostname=refused;"
        " (echo sandbox-probe > /proc/sys/kernel/hostname) 2>/dev/null"
        " && echo sys=writable || echo sys=readonly;"
        " id -u; uname -n"
    )
    root = _run(store, agent, "(" + script + ") > /alloc/data/h", user="root")
    lines = (root / "alloc" / "data" / "h").read_text().split()
    assert lines == ["hostname=refused", "sys=readonly", "0", before]
    assert os.uname().nodename == before


def test_chroot_env_default_is_nomads() -> None:
    assert CHROOT_ENV == ("/bin", "/etc", "/lib", "/lib32", "/lib64", "/run/resolvconf", "/sbin", "/usr")
    assert ExecDriver(chroot_env=("/usr",)).chroot_env == ("/usr",)


def test_exec_task_runs_as_its_user(store: Store, agent: NodeAgent) -> None:
    """`user` (here a uid with no passwd entry: its gid is the same number, no groups)."""
    script = "id -u > /alloc/data/id; id -G >> /alloc/data/id; echo x > /local/mine"
    root = _run(store, agent, script, user="12345")
    assert (root / "alloc" / "data" / "id").read_text().split() == ["12345", "12345"]
    assert (root / "t" / "local" / "mine").stat().st_uid == 12345


def test_exec_chroot_env_is_configurable(store: Store, tmp_path: Path) -> None:
    """The agent's `--exec-chroot-env`: without /etc in the list the task has no /etc (and
    still runs: the user is looked up on the host)."""
    agent = NodeAgent(
        store,
        data_dir=tmp_path / "data",
        node_name="node-chroot",
        exec_chroot_env=("/bin", "/lib", "/lib64", "/usr"),
        heartbeat_ttl=5,
    )
    agent.start()
    try:
        root = _run(
            store,
            agent,
            "test -e /etc/passwd && echo etc=visible > /alloc/data/e || echo etc=hidden > /alloc/data/e",
        )
        assert (root / "alloc" / "data" / "e").read_text().strip() == "etc=hidden"
    finally:
        agent.stop(drain=True, timeout=30)


def test_exec_task_reaches_its_host_volumes(store: Store, tmp_path: Path) -> None:
    """A host volume (the agent's link in the task dir) resolves inside the chroot; a
    `read_only` mount is read-only there."""
    rw, ro = tmp_path / "rw", tmp_path / "ro"
    for d in (rw, ro):
        d.mkdir()
        d.chmod(0o777)
    (ro / "given").write_text("hello\n")
    agent = NodeAgent(
        store,
        data_dir=tmp_path / "data",
        node_name="node-volumes",
        host_volumes={"rw": HostVolume(str(rw)), "ro": HostVolume(str(ro))},
        heartbeat_ttl=5,
    )
    agent.start()
    try:
        script = (
            "echo written > local/rw/out; cat local/ro/given > /alloc/data/read;"
            " (echo x > local/ro/nope) 2>/dev/null && echo ro=writable >> /alloc/data/read"
            " || echo ro=readonly >> /alloc/data/read"
        )
        task = Task(
            name="t",
            driver="exec",
            config={"command": "/bin/sh", "args": ["-c", script]},
            volume_mounts=[
                VolumeMount(volume="rw", destination="local/rw"),
                VolumeMount(volume="ro", destination="local/ro", read_only=True),
            ],
        )
        job = make_job("volumes", tasks=[task], type="batch")
        job.task_groups[0].volumes = {
            "rw": VolumeRequest(name="rw", source="rw"),
            "ro": VolumeRequest(name="ro", source="ro"),
        }
        put_job(store, job)
        a = put_alloc(store, make_alloc(job, agent.node_id))
        wait_status(store, a.id, "complete", timeout=30)
        assert (rw / "out").read_text() == "written\n"
        read = agent.data_dir / "allocs" / a.id / "alloc" / "data" / "read"
        assert read.read_text() == "hello\nro=readonly\n"
        assert not (ro / "nope").exists()
    finally:
        agent.stop(drain=True, timeout=30)


def test_alloc_exec_runs_inside_the_sandbox(store: Store, agent: NodeAgent) -> None:
    """`alloc exec` into an exec task joins its namespaces, chroot and user (review H5)."""
    task = Task(
        name="t",
        driver="exec",
        config={"command": "/bin/sh", "args": ["-c", "echo here > /local/marker; exec sleep 600"]},
    )
    job = make_job("execin", tasks=[task])
    put_job(store, job)
    a = put_alloc(store, make_alloc(job, agent.node_id))
    wait_status(store, a.id, "running", timeout=30)
    marker = agent.data_dir / "allocs" / a.id / "t" / "local" / "marker"
    wait_for(marker.exists, 30, message="the task wrote its marker")
    script = (
        "id -u; cat /local/marker; echo $NOMAD_TASK_DIR; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status;"
        " test -e /root && echo root=visible || echo root=hidden; pwd; readlink /proc/self/ns/uts"
    )
    out = run_exec(agent.data_dir, a.id, "t", ["/bin/sh", "-c", script], 20)
    assert out["ExitCode"] == 0, out
    lines = out["Stdout"].split("\n")
    assert lines[:3] == [str(pwd.getpwnam("nobody").pw_uid), "here", "/local"], out
    assert lines[3].split() == ["CapEff:", "0000000000000000"]
    assert lines[4].split() == ["NoNewPrivs:", "1"]
    assert lines[5:7] == ["root=hidden", "/"]
    assert lines[7] != os.readlink("/proc/self/ns/uts")


def test_a_restarted_exec_task_enters_its_sandbox_again(store: Store, agent: NodeAgent) -> None:
    """The second start finds the first one's mount points in the task dir and still works."""
    script = "echo run >> /alloc/data/runs; [ $(wc -l < /alloc/data/runs) -ge 2 ]"
    task = Task(name="t", driver="exec", config={"command": "/bin/sh", "args": ["-c", script]})
    job = make_job(
        "again",
        tasks=[task],
        type="batch",
        restart=RestartPolicy(attempts=2, interval=60 * SECOND, delay=0, mode="fail"),
    )
    put_job(store, job)
    a = put_alloc(store, make_alloc(job, agent.node_id))
    wait_status(store, a.id, "complete", timeout=30)
    assert (agent.data_dir / "allocs" / a.id / "alloc" / "data" / "runs").read_text() == "run\nrun\n"


def test_script_check_runs_inside_the_sandbox(store: Store, agent: NodeAgent) -> None:
    """A script check of an exec task runs in its sandbox (review H4), as `alloc exec` does:
    its user, no capabilities, its chroot, its environment (`NOMAD_TASK_DIR` is `/local`,
    also when interpolated into the check's arguments)."""
    script = (
        # not before the task wrote its marker (exit 2: critical): the first pass must be a full one
        "test -s ${NOMAD_TASK_DIR}/marker || exit 2;"
        " id -u; cat ${NOMAD_TASK_DIR}/marker; echo $NOMAD_TASK_DIR $GREETING;"
        " grep -E '^CapEff' /proc/self/status; test -e /root && echo root=visible || echo root=hidden"
    )
    check = Check(
        name="inside",
        type="script",
        task="t",
        command="/bin/sh",
        args=["-c", script],
        interval=SECOND,
        timeout=10 * SECOND,
    )
    task = Task(
        name="t",
        driver="exec",
        env={"GREETING": "hi"},
        config={"command": "/bin/sh", "args": ["-c", "echo here > /local/marker; exec sleep 600"]},
    )
    job = make_job("checked", tasks=[task])
    job.task_groups[0].services = [Service(name="checked", port="http", checks=[check])]
    put_job(store, job)
    a = put_alloc(store, make_alloc(job, agent.node_id))
    wait_status(store, a.id, "running", timeout=30)
    registrar = Registrar(store, agent.node, data_dir=agent.data_dir)
    registrar.start()
    try:

        def output() -> str | None:
            got, _ = store.list(store.keys.checks + a.id + "/", CheckStatus)
            ok = [c.value for c in got if c.value.status == "passing"]
            return ok[0].output if ok else None

        out = wait_for(output, 30, message="the script check passes")
    finally:
        registrar.stop()
    lines = out.split("\n")
    assert lines[:3] == [str(pwd.getpwnam("nobody").pw_uid), "here", "/local hi"], out
    assert lines[3].split() == ["CapEff:", "0000000000000000"]
    assert lines[4] == "root=hidden"
