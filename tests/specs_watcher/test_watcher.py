"""The specs watcher against a real etcd and a real directory: apply on start, follow
edits (version 1), stop on delete, refuse invalid files without touching the job, and
survive a parser that crashes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from controllers.specs_watcher import SpecsWatcher
from reconciler import spec
from reconciler.model.job import Job
from reconciler.model.objects import JobRecord
from reconciler.store import Store
from tests.waiting import wait_for

JOB = """job "{name}" {{
  datacenters = ["dc1"]
  group "web" {{
    count = {count}
    task "server" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sleep"
        args    = ["3600"]
      }}
    }}
  }}
}}
"""


def write(path: Path, name: str = "web", count: int = 1) -> None:
    path.write_text(JOB.format(name=name, count=count))


def record(store: Store, job_id: str = "web") -> JobRecord | None:
    cur = store.get(store.keys.job("default", job_id), JobRecord)
    return cur.value if cur else None


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    d = tmp_path / "specs"
    d.mkdir()
    (d / "examples").mkdir()
    return d


@pytest.fixture
def watcher(store: Store, specs: Path) -> Iterator[SpecsWatcher]:
    w = SpecsWatcher(store, specs, debounce=0.05)
    yield w
    w.stop()


def test_files_present_at_start_are_applied_and_subdirectories_are_not(
    store: Store, specs: Path, watcher: SpecsWatcher
) -> None:
    write(specs / "web.nomad")
    write(specs / "examples" / "other.nomad", name="other")
    watcher.start()
    rec = wait_for(lambda: record(store), message="job from web.nomad")
    assert rec.version == 0
    assert rec.source_file == str(specs / "web.nomad")
    wait_for(watcher.idle)
    assert record(store, "other") is None


def test_an_edit_makes_version_1_and_a_delete_stops_the_job(
    store: Store, specs: Path, watcher: SpecsWatcher
) -> None:
    path = specs / "web.nomad"
    write(path, count=1)
    watcher.start()
    wait_for(lambda: record(store), message="version 0")
    write(path, count=3)
    rec = wait_for(lambda: (r := record(store)) and r.version == 1 and r, message="version 1 after the edit")
    assert rec.job.task_groups[0].count == 3
    path.unlink()
    wait_for(lambda: (r := record(store)) and r.stop, message="job stopped after delete")


def test_a_save_storm_is_debounced_into_one_version(store: Store, specs: Path, watcher: SpecsWatcher) -> None:
    path = specs / "web.nomad"
    write(path, count=1)
    watcher.start()
    wait_for(lambda: record(store), message="version 0")
    wait_for(watcher.idle)
    for n in range(2, 12):
        write(path, count=n)
    wait_for(lambda: (r := record(store)) and r.job.task_groups[0].count == 11, message="last edit applied")
    wait_for(watcher.idle)
    rec = record(store)
    assert rec is not None, "ten quick saves should not make ten versions"
    assert rec.version <= 2, "ten quick saves should not make ten versions"


def test_an_invalid_file_is_reported_with_its_line_and_the_job_is_left_as_it_was(
    store: Store, specs: Path, watcher: SpecsWatcher
) -> None:
    path = specs / "web.nomad"
    write(path, count=2)
    watcher.start()
    wait_for(lambda: record(store), message="version 0")
    path.write_text(JOB.format(name="web", count=2).replace("count = 2", "count = 2\n    cuont = 3"))
    wait_for(lambda: path in watcher.errors, message="error recorded for the invalid file")
    assert "web.nomad:5" in watcher.errors[path]
    assert "cuont" in watcher.errors[path]
    rec = record(store)
    assert rec is not None
    assert rec.version == 0
    assert not rec.stop
    assert rec.job.task_groups[0].count == 2


def test_a_file_deleted_while_the_watcher_was_down_stops_its_job(store: Store, specs: Path) -> None:
    path = specs / "web.nomad"
    write(path)
    first = SpecsWatcher(store, specs, debounce=0.05)
    first.start()
    wait_for(lambda: record(store), message="version 0")
    wait_for(first.idle)
    first.stop()
    path.unlink()
    second = SpecsWatcher(store, specs, debounce=0.05)
    second.start()
    try:
        wait_for(lambda: (r := record(store)) and r.stop, message="job stopped at start")
    finally:
        second.stop()


def parser_with_a_bug(path: str) -> Job:
    """The real parser, with a bug no input we could find triggers in it (every malformed
    file we tried becomes a SpecError): it crashes on a marker comment."""
    if "# crash the parser" in Path(path).read_text():
        raise RecursionError("maximum recursion depth exceeded")
    return spec.load_job_file(path)


def test_a_parser_crash_is_reported_and_the_watcher_goes_on(store: Store, specs: Path) -> None:
    bad = specs / "bad.nomad"
    bad.write_text(JOB.format(name="bad", count=1) + "# crash the parser\n")
    w = SpecsWatcher(store, specs, debounce=0.05, load=parser_with_a_bug)
    w.start()
    try:
        wait_for(lambda: bad in w.errors, message="the crash reported for bad.nomad")
        assert "RecursionError" in w.errors[bad]
        assert "bad.nomad" in w.errors[bad]
        assert record(store, "bad") is None
        write(specs / "web.nomad")  # a good file afterwards is still applied
        rec = wait_for(lambda: record(store), message="job from web.nomad")
        assert rec.version == 0
        assert rec.source_file == str(specs / "web.nomad")
        write(bad, name="bad")  # and the fixed file too, its error cleared
        wait_for(lambda: record(store, "bad"), message="job from the fixed bad.nomad")
        wait_for(lambda: bad not in w.errors, message="the error cleared")
    finally:
        w.stop()


def test_a_second_file_with_the_same_job_id_is_refused_and_its_delete_stops_nothing(
    store: Store, specs: Path, watcher: SpecsWatcher
) -> None:
    write(specs / "a.nomad", count=1)
    watcher.start()
    wait_for(lambda: record(store), message="job from a.nomad")
    write(specs / "b.nomad", count=3)  # the same job id, "web"
    wait_for(lambda: specs / "b.nomad" in watcher.errors, message="b.nomad refused")
    assert "job default/web is already defined by a.nomad" in watcher.errors[specs / "b.nomad"]
    rec = record(store)
    assert rec is not None
    assert (rec.version, rec.job.task_groups[0].count) == (0, 1)
    (specs / "b.nomad").unlink()
    wait_for(lambda: specs / "b.nomad" not in watcher.errors, message="b.nomad forgotten")
    wait_for(watcher.idle)
    rec = record(store)
    assert rec is not None
    assert not rec.stop


def test_a_job_since_submitted_through_the_api_is_not_stopped_with_its_old_file(
    store: Store, specs: Path, watcher: SpecsWatcher
) -> None:
    from reconciler.ops.jobs import submit_job

    path = specs / "web.nomad"
    write(path, count=1)
    watcher.start()
    first = wait_for(lambda: record(store), message="version 0")
    submit_job(store, replace(first.job, task_groups=[replace(first.job.task_groups[0], count=2)]))
    path.unlink()
    watcher.notify(path)
    wait_for(watcher.idle)
    rec = record(store)
    assert rec is not None
    assert (rec.version, rec.stop) == (1, False)
