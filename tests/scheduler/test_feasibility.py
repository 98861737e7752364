"""Feasibility checks, one table per stage (no etcd)."""

from __future__ import annotations

import pytest

from controllers.scheduler.feasibility import (
    constraint_ok,
    datacenter_ok,
    drivers_ok,
    dynamic_filter,
    static_filter,
    version_matches,
)
from controllers.scheduler.state import NodeState
from reconciler.model.job import Constraint, Port
from reconciler.model.objects import AllocatedPort
from tests.scheduler.factories import mock_alloc, mock_job, mock_node

NODE = mock_node(
    "n1",
    attributes={"kernel.name": "linux", "os.version": "11.4", "cpu.numcores": "4", "tags": "a,b,c"},
    meta={"rack": "r1"},
)


@pytest.mark.parametrize(
    ("attribute", "operator", "value", "ok"),
    [
        ("${attr.kernel.name}", "=", "linux", True),
        ("${attr.kernel.name}", "=", "windows", False),
        ("${attr.kernel.name}", "!=", "windows", True),
        ("${attr.cpu.numcores}", ">", "2", True),
        ("${attr.cpu.numcores}", "<", "2", False),
        ("${attr.cpu.numcores}", ">=", "4", True),
        ("${attr.cpu.numcores}", "<=", "3", False),
        ("${attr.kernel.name}", "regexp", "^lin", True),
        ("${attr.kernel.name}", "regexp", "^win", False),
        ("${attr.os.version}", "version", ">= 11, < 12", True),
        ("${attr.os.version}", "version", "> 11.5", False),
        ("${attr.tags}", "set_contains", "a,c", True),
        ("${attr.tags}", "set_contains", "a,d", False),
        ("${meta.rack}", "=", "r1", True),
        ("${node.datacenter}", "=", "dc1", True),
        ("${attr.missing}", "=", "x", False),
        ("${attr.missing}", "is_not_set", "", True),
    ],
    ids=lambda v: str(v),
)
def test_constraint_operators(attribute: str, operator: str, value: str, ok: bool) -> None:
    assert constraint_ok(Constraint(attribute, operator, value), NODE) is ok


@pytest.mark.parametrize(
    ("datacenters", "dc", "ok"),
    [(["dc1"], "dc1", True), (["dc2"], "dc1", False), (["*"], "dc9", True), (["eu-*"], "eu-west", True)],
    ids=["exact match", "other datacenter", "star matches all", "glob matches a prefix"],
)
def test_datacenter(datacenters: list[str], dc: str, ok: bool) -> None:
    assert datacenter_ok(mock_job(1, datacenters=datacenters), mock_node(dc=dc)) is ok


def test_driver_must_be_present_and_healthy() -> None:
    g = mock_job(1, driver="java").task_groups[0]
    assert not drivers_ok(g, mock_node(drivers={"raw_exec": True}))
    assert not drivers_ok(g, mock_node(drivers={"java": False}))
    assert drivers_ok(g, mock_node(drivers={"java": True}))
    assert static_filter(mock_job(1), g, mock_node(drivers={}), []) == "missing drivers"


def test_static_filter_names_the_constraint() -> None:
    job = mock_job(1, constraints=[Constraint("${attr.kernel.name}", "=", "windows")])
    assert static_filter(job, job.task_groups[0], NODE, job.constraints) == "${attr.kernel.name} = windows"


def _state(cpu: int = 1000, memory: int = 1000) -> NodeState:
    return NodeState.of(mock_node(cpu=cpu, memory=memory))


def test_cpu_and_memory_against_capacity_minus_allocated() -> None:
    job = mock_job(1, cpu=600, memory=100)
    g = job.task_groups[0]
    st = _state()
    assert dynamic_filter("web", g, st, 600, 100, (False, False)) is None
    st.add(mock_alloc(job, 0, cpu=600, memory=100))
    assert dynamic_filter("web", g, st, 600, 100, (False, False)) == ("dimension", "cpu")
    st2 = _state(memory=150)
    st2.add(mock_alloc(job, 0, cpu=0, memory=100))
    assert dynamic_filter("web", g, st2, 10, 100, (False, False)) == ("dimension", "memory")


def test_reserved_port_collision_is_a_dimension() -> None:
    job = mock_job(1, ports=[Port("http", static=8080)])
    st = _state()
    st.add(mock_alloc(job, 0, ports=[AllocatedPort("http", 8080)]))
    assert dynamic_filter("web", job.task_groups[0], st, 1, 1, (False, False)) == (
        "dimension",
        "network: reserved port collision http=8080",
    )


def test_distinct_hosts() -> None:
    job = mock_job(2)
    st = _state()
    st.add(mock_alloc(job, 0))
    assert dynamic_filter("web", job.task_groups[0], st, 1, 1, (False, True)) == (
        "constraint",
        "distinct_hosts",
    )
    assert dynamic_filter("other", job.task_groups[0], st, 1, 1, (True, False)) is None


def test_version_matching() -> None:
    assert version_matches("1.2.3", ">= 1.2, < 2")
    assert not version_matches("2.0", ">= 1.2, < 2")
    assert version_matches("v3.1", "~> 3.0")
