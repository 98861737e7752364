"""Feasibility checks, one table per stage (no etcd)."""

from __future__ import annotations

import pytest

from controllers.scheduler.feasibility import (
    PropertyRule,
    constraint_ok,
    constraints_for,
    count_placement,
    datacenter_ok,
    drivers_ok,
    dynamic_filter,
    node_pool_ok,
    property_misfit,
    property_rules,
    property_usage,
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


@pytest.mark.parametrize(
    ("job_pool", "node_pool", "ok"),
    [
        ("default", "default", True),
        ("default", "prod", False),
        ("prod", "prod", True),
        ("prod", "default", False),
        ("all", "prod", True),
        ("all", "default", True),
        ("", "default", True),  # an unset pool is "default"
    ],
    ids=lambda v: str(v),
)
def test_node_pool(job_pool: str, node_pool: str, ok: bool) -> None:
    assert node_pool_ok(mock_job(1, node_pool=job_pool), mock_node(node_pool=node_pool)) is ok


def test_node_pool_is_a_node_attribute_for_constraints() -> None:
    prod = mock_node(node_pool="prod")
    assert constraint_ok(Constraint("${node.pool}", "=", "prod"), prod)
    assert not constraint_ok(Constraint("${node.pool}", "=", "prod"), mock_node())


RACK = "${meta.rack}"


@pytest.mark.parametrize(
    ("limit", "used", "node_meta", "why"),
    [
        (1, {}, {"rack": "r1"}, None),
        (1, {"r2": 1}, {"rack": "r1"}, None),
        (1, {"r1": 1}, {"rack": "r1"}, "distinct_property: ${meta.rack}=r1 used by 1 allocs"),
        (2, {"r1": 1}, {"rack": "r1"}, None),
        (2, {"r1": 2}, {"rack": "r1"}, "distinct_property: ${meta.rack}=r1 used by 2 allocs"),
        (1, {}, {}, 'missing property "${meta.rack}"'),
    ],
    ids=["unused", "other value used", "value at its limit", "under a limit of 2", "at 2", "no property"],
)
def test_distinct_property_misfit(
    limit: int, used: dict[str, int], node_meta: dict[str, str], why: str
) -> None:
    rule = PropertyRule(RACK, limit)
    assert property_misfit(rule, used, mock_node(meta=node_meta)) == why
    st = NodeState.of(mock_node(meta=node_meta))
    expected = None if why is None else ("constraint", why)
    assert (
        dynamic_filter("web", mock_job(1).task_groups[0], st, 1, 1, (False, False), [(rule, used)])
        == expected
    )


@pytest.mark.parametrize(
    ("value", "level", "limit"),
    [("", "job", 1), ("2", "job", 2), ("3", "group", 3)],
    ids=["default count 1", "job level", "group level"],
)
def test_property_rules_read_the_constraints(value: str, level: str, limit: int) -> None:
    c = Constraint(RACK, "distinct_property", value)
    job = mock_job(1, constraints=[c] if level == "job" else [])
    if level == "group":
        job.task_groups[0].constraints = [c]
    group = job.task_groups[0]
    assert property_rules(job, group) == [PropertyRule(RACK, limit, "" if level == "job" else group.name)]
    assert static_filter(job, group, mock_node(meta={}), constraints_for(job, group)) is None  # per placement


def test_property_usage_counts_the_job_or_the_group_per_value() -> None:
    job = mock_job(1)
    states = [
        NodeState.of(mock_node(f"n{i}", meta=m)) for i, m in enumerate([{"rack": "r1"}, {"rack": "r1"}, {}])
    ]
    states[0].add(mock_alloc(job, 0, node="n0"))
    states[1].add(mock_alloc(job, 1, node="n1"))
    states[1].add(mock_alloc(job, 2, node="n1", group="other"))
    states[2].add(mock_alloc(job, 3, node="n2"))  # no rack: counted for no value
    assert property_usage(PropertyRule(RACK, 1), "web", states) == {"r1": 3}
    assert property_usage(PropertyRule(RACK, 1, "web"), "web", states) == {"r1": 2}
    assert property_usage(PropertyRule(RACK, 1), "other-job", states) == {}


def test_count_placement_keeps_the_usage_of_the_rules_it_concerns() -> None:
    job_rule, web_rule, api_rule = (
        PropertyRule(RACK, 1),
        PropertyRule(RACK, 1, "web"),
        PropertyRule(RACK, 1, "api"),
    )
    props: list[tuple[PropertyRule, dict[str, int]]] = [(job_rule, {}), (web_rule, {"r1": 1}), (api_rule, {})]
    count_placement(props, "web", mock_node(meta={"rack": "r1"}))
    count_placement(props, "web", mock_node(meta={}))  # no rack: counted for no value
    assert [used for _, used in props] == [{"r1": 1}, {"r1": 2}, {}]
