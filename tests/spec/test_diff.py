"""The plan diff: structure (what changed, destructive or in place) and Nomad's text."""

from __future__ import annotations

import copy

import pytest

from reconciler.model.job import Job
from reconciler.spec import diff_jobs, diff_to_nomad, load_job_file, render_diff
from reconciler.spec.diff import DiffType
from tests.spec.paths import EXAMPLES, PLANS


def job(name: str) -> Job:
    return load_job_file(EXAMPLES / name)


STORY_PLANS = [
    pytest.param(None, "todo-java.nomad", {"web": {"create": 1}}, "todo-java.txt", id="first run of todo"),
    pytest.param(None, "fabio.nomad", {"fabio": {"create": 1}}, "fabio.txt", id="first run of fabio"),
    pytest.param(
        "todo-java-scaled-service.nomad",
        "todo-java-scaled-service-header.nomad",
        {"web": {"create/destroy update": 1, "ignore": 4}},
        "header.txt",
        id="adding the header jvm options",
    ),
    pytest.param(
        "todo-java-scaled-service-header.nomad",
        "todo-java-scaled-service-header-canary.nomad",
        {"web": {"canary": 1, "ignore": 5}},
        "canary.txt",
        id="the canary update",
    ),
]


@pytest.mark.parametrize(("old", "new", "counts", "expected"), STORY_PLANS)
def test_plan_text_matches_nomads(
    old: str | None, new: str, counts: dict[str, dict[str, int]], expected: str
) -> None:
    diff = diff_jobs(job(old) if old else None, job(new))
    text = render_diff(diff, group_counts=counts)
    assert text == (PLANS / expected).read_text(encoding="utf-8")


def test_without_counts_no_parentheses_are_printed() -> None:
    text = render_diff(diff_jobs(None, job("todo-java.nomad")))
    assert text == '+ Job: "todo"\n+ Task Group: "web"\n  + Task: "todo" (forces create)\n'


def test_unchanged_job_has_type_none() -> None:
    diff = diff_jobs(job("todo-java.nomad"), job("todo-java.nomad"))
    assert diff.type == DiffType.NONE
    assert render_diff(diff) == 'Job: "todo"\nTask Group: "web"\n  Task: "todo"\n'


def test_config_change_is_destructive() -> None:
    diff = diff_jobs(job("todo-java-scaled-service.nomad"), job("todo-java-scaled-service-header.nomad"))
    group = diff.group("web")
    assert group is not None
    assert group.destructive
    assert not group.in_place
    task = group.tasks[0]
    assert task.annotations == ["forces create/destroy update"]
    config = next(o for o in task.objects if o.name == "Config")
    added = [f for f in config.fields if f.type == DiffType.ADDED]
    assert [f.name for f in added] == ["jvm_options[3]", "jvm_options[4]", "jvm_options[5]"]
    assert added[0].old == ""
    assert added[0].new.startswith("-Dquarkus.http.header.TodoServer.value=")


def _edited(name: str, change: object) -> tuple[Job, Job]:
    old = job(name)
    new = copy.deepcopy(old)
    change(new)  # type: ignore[operator]
    return old, new


IN_PLACE = [
    pytest.param(lambda j: setattr(j.task_groups[0], "count", 7), "Count", id="count"),
    pytest.param(lambda j: j.task_groups[0].services[0].tags.append("v2"), "Service", id="service tags"),
    pytest.param(lambda j: j.task_groups[0].meta.update(team="a"), "Meta[team]", id="group meta"),
    pytest.param(lambda j: setattr(j.task_groups[0].update, "canary", 2), "Update", id="update stanza"),
]


@pytest.mark.parametrize(("change", "what"), IN_PLACE)
def test_in_place_changes(change: object, what: str) -> None:
    old, new = _edited("todo-java-scaled-service.nomad", change)
    group = diff_jobs(old, new).group("web")
    assert group is not None
    assert group.type == DiffType.EDITED
    assert group.in_place
    assert not group.destructive
    names = [f.name for f in group.fields if f.type != DiffType.NONE] + [o.name for o in group.objects]
    assert what in names


DESTRUCTIVE = [
    pytest.param(lambda j: j.task_groups[0].tasks[0].env.update(A="1"), id="env"),
    pytest.param(lambda j: setattr(j.task_groups[0].tasks[0], "driver", "exec"), id="driver"),
    pytest.param(lambda j: setattr(j.task_groups[0].tasks[0].resources, "memory", 512), id="resources"),
    pytest.param(lambda j: setattr(j.task_groups[0].networks[0].ports[0], "static", 9000), id="ports"),
]


@pytest.mark.parametrize("change", DESTRUCTIVE)
def test_destructive_changes(change: object) -> None:
    old, new = _edited("todo-java-scaled-service.nomad", change)
    group = diff_jobs(old, new).group("web")
    assert group is not None
    assert group.destructive


def test_count_change_renders_as_an_edited_field() -> None:
    old, new = _edited("todo-java.nomad", lambda j: setattr(j.task_groups[0], "count", 5))
    text = render_diff(diff_jobs(old, new), group_counts={"web": {"create": 4, "in-place update": 1}})
    assert text == (
        '+/- Job: "todo"\n'
        '+/- Task Group: "web" (4 create, 1 in-place update)\n'
        '  +/- Count: "1" => "5"\n'
        '      Task: "todo"\n'
    )


def test_deleted_group_and_added_task() -> None:
    old = job("todo-java.nomad")
    new = copy.deepcopy(old)
    extra = copy.deepcopy(new.task_groups[0].tasks[0])
    extra.name = "sidecar"
    new.task_groups[0].tasks.append(extra)
    diff = diff_jobs(old, new)
    group = diff.group("web")
    assert group is not None
    assert [(t.name, t.type, t.annotations) for t in group.tasks] == [
        ("sidecar", DiffType.ADDED, ["forces create"]),
        ("todo", DiffType.NONE, []),
    ]
    gone = diff_jobs(new, job("consul.nomad"))
    assert {g.name: g.type for g in gone.task_groups} == {"consul": DiffType.ADDED, "web": DiffType.DELETED}


def test_diff_as_nomad_api_json() -> None:
    diff = diff_jobs(
        job("todo-java-scaled-service-header.nomad"), job("todo-java-scaled-service-header-canary.nomad")
    )
    data = diff_to_nomad(diff, {"web": {"canary": 1, "ignore": 5, "destroy": 0}})
    group = data["TaskGroups"][0]
    assert data["Type"] == "Edited"
    assert data["ID"] == "todo"
    assert group["Updates"] == {"canary": 1, "ignore": 5}
    update = next(o for o in group["Objects"] if o["Name"] == "Update")
    canary = next(f for f in update["Fields"] if f["Name"] == "Canary")
    assert canary == {"Type": "Edited", "Name": "Canary", "Old": "0", "New": "1", "Annotations": None}
    assert group["Tasks"][0]["Annotations"] == ["forces create/destroy update"]
