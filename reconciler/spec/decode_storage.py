"""Decoding the storage stanzas: a group's `volume "name" { ... }` and a task's
`volume_mount { ... }` (HCL and YAML), apart from decode.py to keep that module's size."""

from __future__ import annotations

from reconciler.model.volumes import VolumeMount, VolumeRequest
from reconciler.spec.reader import FieldReader

# Nomad's volume types; only "host" is implemented (validate refuses "csi" by name).
VOLUME_TYPES = ("host", "csi")


def volume(r: FieldReader, name: str) -> VolumeRequest:
    v = VolumeRequest(name=name)
    v.type = r.text("type", v.type, choices=VOLUME_TYPES)
    v.source = r.text("source", v.source)
    v.read_only = r.flag("read_only", v.read_only)
    r.finish()
    return v


def volume_mount(r: FieldReader) -> VolumeMount:
    m = VolumeMount()
    m.volume = r.text("volume", m.volume)
    m.destination = r.text("destination", m.destination)
    m.read_only = r.flag("read_only", m.read_only)
    m.propagation_mode = r.text("propagation_mode", m.propagation_mode)
    r.finish()
    return m
