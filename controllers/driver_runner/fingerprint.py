"""Fingerprinting: what this machine offers (cores, cpu MHz, memory, kernel and OS names,
hostname, address) and which drivers work here. Pure readers of /proc and the drivers."""

from __future__ import annotations

import fcntl
import os
import platform
import socket
import struct

from controllers.driver_runner.drivers import TaskDriver
from reconciler.model.objects import NodeResources

VERSION = "0.1.0"


def _cpu_mhz() -> float:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("cpu mhz"):
                    return float(line.split(":", 1)[1])
    except (OSError, ValueError):
        pass
    return 1000.0


def _memory_mb() -> int:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError):
        pass
    return 0


def _os_name() -> tuple[str, str]:
    try:
        with open("/etc/os-release") as fh:
            kv = dict(line.rstrip("\n").split("=", 1) for line in fh if "=" in line)
        return kv.get("ID", "").strip('"'), kv.get("VERSION_ID", "").strip('"')
    except OSError:
        return platform.system().lower(), ""


def interface_address(name: str) -> str:
    """The IPv4 address of a network interface (SIOCGIFADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            packed = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name.encode()[:15]))
        except OSError as exc:
            raise ValueError(f"network interface {name!r} has no IPv4 address: {exc.strerror}") from None
    return socket.inet_ntoa(packed[20:24])


def resources(data_dir: str | os.PathLike[str] = "/") -> NodeResources:
    """CPU, memory and the free disk of the file system holding `data_dir` (where the
    allocation directories live: Nomad's storage fingerprint of its alloc dir)."""
    cores = os.cpu_count() or 1
    mhz = _cpu_mhz()
    try:
        st = os.statvfs(data_dir)
        disk = st.f_bavail * st.f_frsize // (1024 * 1024)
    except OSError:
        disk = 0
    return NodeResources(cpu_mhz=int(cores * mhz), cores=cores, memory_mb=_memory_mb(), disk_mb=disk)


def attributes(address: str) -> dict[str, str]:
    res = resources()
    os_id, os_ver = _os_name()
    uname = os.uname()
    return {
        "kernel.name": uname.sysname.lower(),
        "kernel.version": uname.release,
        "kernel.arch": uname.machine,
        "cpu.arch": uname.machine,
        "cpu.numcores": str(res.cores),
        "cpu.frequency": str(int(_cpu_mhz())),
        "cpu.totalcompute": str(res.cpu_mhz),
        "memory.totalbytes": str(res.memory_mb * 1024 * 1024),
        "os.name": os_id,
        "os.version": os_ver,
        "unique.hostname": socket.gethostname(),
        "unique.network.ip-address": address,
        "nomad.version": VERSION,
        "reconciler.version": VERSION,
    }


def drivers(available: dict[str, TaskDriver]) -> tuple[dict[str, bool], dict[str, str]]:
    """driver -> healthy for every detected driver, and the drivers' attributes."""
    health: dict[str, bool] = {}
    attrs: dict[str, str] = {}
    for name, d in available.items():
        fp = d.fingerprint()
        if fp.detected:
            health[name] = fp.healthy
            attrs.update(fp.attributes)
    return health, attrs
