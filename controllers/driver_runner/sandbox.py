"""The exec driver's sandbox helper, run as pid 1 of the task's new PID, mount, IPC and UTS
namespaces (`unshare --pid --mount --ipc --uts --fork`, see drivers/exec.py).

It turns the task directory `<alloc>/<task>/` into the task's root, as Nomad's exec driver
does: the host directories of `chroot_env` bind-mounted read-only (not copied), the group's
shared `alloc/` at `/alloc`, a fresh `/proc` for the new PID namespace, a small `/dev`; the
task's own `local/`, `secrets/` and `tmp/` are already there (`/local`, `/secrets`, `/tmp`);
each host volume the task mounts at its host path, where the agent's link points. Then it
chroots and execs util-linux `setpriv` (which must be inside the chroot, /usr by default)
to switch to the task's user with no capabilities (bounding and inheritable sets
emptied) and no_new_privs, which execs the command. All mounts live in the new mount
namespace only and vanish with it.

Standard library only, run with `python -I -S`, so that nothing from the agent's
environment is imported: `sandbox.py <json settings> <command> [args...]`.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from typing import Any

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
# Host-wide knobs under /proc that a task running as uid 0 (`user = "root"`, still without
# capabilities) could write by file mode alone (sysctls: the task shares the host's network
# namespace): read-only in the sandbox, as container runtimes do.
PROC_READ_ONLY = ("sys", "sysrq-trigger", "irq", "bus", "fs")

_libc = ctypes.CDLL(None, use_errno=True)


def mount(src: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = [None if v is None else v.encode() for v in (src, target, fstype, data)]
    if _libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {src} on {target}: {os.strerror(err)}")


def _mountpoint(target: str, *, is_dir: bool) -> None:
    """Create `target` (never through a symlink: the task directory is the agent's)."""
    if os.path.islink(target):
        raise OSError(f"sandbox: {target} is a symlink")
    if is_dir:
        os.makedirs(target, exist_ok=True)
    elif not os.path.exists(target):
        open(target, "a").close()


def bind(src: str, target: str, *, read_only: bool) -> None:
    _mountpoint(target, is_dir=os.path.isdir(src))
    mount(src, target, None, MS_BIND)
    if read_only:
        mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def build_dev(root: str) -> None:
    dev = os.path.join(root, "dev")
    _mountpoint(dev, is_dir=True)
    mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=64k")
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            bind(f"/dev/{name}", os.path.join(dev, name), read_only=False)
    os.makedirs(os.path.join(dev, "shm"))
    mount("tmpfs", os.path.join(dev, "shm"), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    os.symlink("/proc/self/fd", os.path.join(dev, "fd"))


def give_dirs(s: dict[str, Any]) -> None:
    """The task's own directories to its user; the group's shared ones to every task's."""
    for d in s["owned"]:
        os.chown(d, s["uid"], s["gid"])
    for d in s["shared_rw"]:
        os.chmod(d, 0o777)


def enter(s: dict[str, Any]) -> None:
    root = s["root"]
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    for d in s["chroot_env"]:
        if os.path.exists(d):
            bind(d, root + d, read_only=True)
    bind(s["alloc"], os.path.join(root, "alloc"), read_only=False)
    for host, read_only in s["volumes"]:
        bind(host, root + host, read_only=read_only)
    _mountpoint(os.path.join(root, "proc"), is_dir=True)
    mount("proc", os.path.join(root, "proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for name in PROC_READ_ONLY:
        path = os.path.join(root, "proc", name)
        if os.path.exists(path):
            bind(path, path, read_only=True)
    build_dev(root)
    give_dirs(s)
    os.chroot(root)
    os.chdir("/")


def main(argv: list[str]) -> None:
    s = json.loads(argv[1])
    enter(s)
    cmd = [*s["setpriv"], *argv[2:]]  # drivers/exec.py `setpriv_argv`
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    main(sys.argv)
