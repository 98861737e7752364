"""Host volume feasibility (Nomad's HostVolumeChecker): a group asking for host volumes is
placed only where the node offers each one, writable unless the request is read-only."""

from __future__ import annotations

import pytest

from controllers.scheduler.decide import decide
from controllers.scheduler.feasibility import host_volumes_ok, static_filter
from reconciler.model.objects import HostVolume
from reconciler.model.plan import describe_failure
from reconciler.model.volumes import VolumeRequest
from tests.scheduler.factories import mock_job, mock_node, nodes_map

NOW = 1000.0
DATA = HostVolume(path="/srv/data")
DATA_RO = HostVolume(path="/srv/data", read_only=True)


@pytest.mark.parametrize(
    ("offered", "requests", "ok"),
    [
        ({}, {}, True),
        ({}, {"d": VolumeRequest("d", source="data")}, False),
        ({"data": DATA}, {"d": VolumeRequest("d", source="data")}, True),
        ({"other": DATA}, {"d": VolumeRequest("d", source="data")}, False),
        ({"data": DATA_RO}, {"d": VolumeRequest("d", source="data")}, False),
        ({"data": DATA_RO}, {"d": VolumeRequest("d", source="data", read_only=True)}, True),
        ({"data": DATA}, {"d": VolumeRequest("d", source="data", read_only=True)}, True),
        (
            {"data": DATA},
            {"d": VolumeRequest("d", source="data"), "l": VolumeRequest("l", source="logs")},
            False,
        ),
    ],
    ids=[
        "no-request",
        "node-offers-none",
        "offered",
        "other-name",
        "read-only-offer-writable-request",
        "read-only-both",
        "writable-offer-read-only-request",
        "one-of-two-missing",
    ],
)
def test_host_volumes_ok(
    offered: dict[str, HostVolume], requests: dict[str, VolumeRequest], ok: bool
) -> None:
    job = mock_job(1)
    group = job.task_groups[0]
    group.volumes = requests
    assert host_volumes_ok(group, mock_node(host_volumes=offered)) is ok
    want = None if ok else "missing compatible host volumes"
    assert static_filter(job, group, mock_node(host_volumes=offered), []) == want


def test_only_the_node_with_the_volume_gets_the_group_and_the_metric_names_the_filter() -> None:
    job = mock_job(3)
    job.task_groups[0].volumes = {"d": VolumeRequest("d", source="data")}
    nodes = nodes_map(mock_node("n1", host_volumes={"data": DATA}), mock_node("n2", cpu=100_000))
    d = decide(job, 0, [], [], {}, nodes, eval_id="e1", now=NOW)
    assert {a.node_id for a in d.new_allocs} == {"n1"}
    job.task_groups[0].volumes = {"d": VolumeRequest("d", source="missing")}
    d = decide(job, 0, [], [], {}, nodes, eval_id="e1", now=NOW)
    assert not d.new_allocs
    assert describe_failure(d.failed["web"])[0] == (
        'Constraint "missing compatible host volumes": 2 nodes excluded by filter'
    )
