"""`GET /v1/event/stream` served by the real API over the test's etcd: frames in Nomad's
shape as jobs, allocations and nodes change, topic and namespace filters, resuming from an
index out of etcd's history (and from a compacted one), heartbeats."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.api import events as event_stream
from reconciler.model.ids import AllocId, NodeId
from reconciler.model.objects import Allocation, AllocStatus, ClientStatus, DesiredStatus, Node
from reconciler.ops.job_stop import stop_job
from reconciler.ops.jobs import submit_job
from reconciler.store import Store
from tests.api.server import ApiServer, make_server
from tests.events.stream import EventReader
from tests.factories import submitted_job
from tests.waiting import wait_for


@pytest.fixture
def api(store: Store, tmp_path: Path) -> Iterator[ApiServer]:
    server = make_server(store, tmp_path)
    yield server
    server.stop()


def _alloc(job_id: str = "todo") -> Allocation:
    return Allocation(
        id=AllocId(f"{job_id}-alloc-1"),
        namespace="default",
        job_id=job_id,
        job_version=0,
        task_group="web",
        name=f"{job_id}.web[0]",
        index=0,
        node_id=NodeId("n1"),
    )


def test_a_submitted_job_and_its_allocation_stream_as_nomad_frames(api: ApiServer, store: Store) -> None:
    with EventReader(api.address) as reader:
        wait_for(reader.snapshot, message="the first frame")  # subscribed
        res = submit_job(store, submitted_job("todo"))
        job = reader.wait_event(lambda e: e["Topic"] == "Job", what="JobRegistered")
        assert job["Type"] == "JobRegistered"
        assert job["Key"] == "todo"
        assert job["Namespace"] == "default"
        assert job["Index"] == res.modify_index
        assert job["Payload"]["Job"]["ID"] == "todo"
        ev = reader.wait_event(lambda e: e["Topic"] == "Evaluation", what="the job's evaluation")
        assert (ev["Type"], ev["Key"]) == ("JobRegistered", res.eval_id)

        alloc = _alloc()
        store.put(store.keys.alloc(alloc.id), alloc)
        status = AllocStatus(alloc_id=alloc.id, node_id=alloc.node_id, client_status=ClientStatus.RUNNING)
        rev = store.put(store.keys.alloc_status(alloc.id), status)
        upd = reader.wait_event(lambda e: e["Type"] == "AllocationUpdated", what="AllocationUpdated")
        assert upd["Index"] == rev
        assert upd["Payload"]["Allocation"]["ClientStatus"] == "running"
        assert upd["Payload"]["Allocation"]["JobID"] == "todo"
        frame = next(f for f in reader.snapshot() if f.get("Index") == rev)
        assert [e["Topic"] for e in frame["Events"]] == ["Allocation"]


def test_topic_and_namespace_filters(api: ApiServer, store: Store) -> None:
    with (
        EventReader(api.address, topic=["Job:wanted"]) as jobs,
        EventReader(api.address, topic=["Node"], namespace="prod") as nodes,
    ):
        wait_for(lambda: jobs.snapshot() and nodes.snapshot(), message="both subscribed")
        submit_job(store, submitted_job("other"))
        submit_job(store, submitted_job("wanted"))
        store.put(store.keys.node("n1"), Node(id=NodeId("n1"), name="node-1"))
        jobs.wait_event(lambda e: e["Key"] == "wanted", what="the wanted job")
        nodes.wait_event(lambda e: e["Topic"] == "Node", what="the node")
        assert {(e["Topic"], e["Key"]) for e in jobs.events()} == {("Job", "wanted")}
        assert {e["Topic"] for e in nodes.events()} == {"Node"}  # nodes have no namespace


def test_resume_from_an_index_replays_etcds_history(api: ApiServer, store: Store) -> None:
    first = submit_job(store, submitted_job("todo"))
    second = stop_job(store, "default", "todo")
    with EventReader(api.address, index=second.modify_index, topic=["Job"]) as reader:
        got = reader.wait_event(lambda e: e["Type"] == "JobDeregistered", what="the stop")
        assert got["Index"] == second.modify_index
        assert got["Payload"]["Job"]["Stop"] is True
        assert all(e["Index"] >= second.modify_index for e in reader.events())
    with EventReader(api.address, index=first.modify_index, topic=["Job:todo"]) as reader:
        wait_for(lambda: len(reader.events()) >= 2, message="both job events")
        assert [(e["Type"], e["Index"]) for e in reader.events()] == [
            ("JobRegistered", first.modify_index),
            ("JobDeregistered", second.modify_index),
        ]


def test_a_compacted_index_starts_at_the_oldest_revision_etcd_keeps(api: ApiServer, store: Store) -> None:
    first = submit_job(store, submitted_job("todo"))
    kept = stop_job(store, "default", "todo")
    store.compact(kept.modify_index)
    with EventReader(api.address, index=first.modify_index, topic=["Job"]) as reader:
        got = reader.wait_event(lambda e: e["Key"] == "todo", what="the job event after compaction")
        assert (got["Type"], got["Index"]) == ("JobDeregistered", kept.modify_index)


def test_deleted_objects_carry_their_last_state(api: ApiServer, store: Store) -> None:
    node = Node(id=NodeId("n2"), name="node-2")
    store.put(store.keys.node(node.id), node)
    with EventReader(api.address, topic=["Node"]) as reader:
        wait_for(reader.snapshot, message="subscribed")
        store.delete(store.keys.node(node.id))
        gone = reader.wait_event(lambda e: e["Type"] == "NodeDeregistration", what="the deregistration")
        assert gone["Payload"]["Node"]["Name"] == "node-2"


def test_heartbeats_keep_a_quiet_stream_alive(
    api: ApiServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_stream, "HEARTBEAT", 0.2)
    with EventReader(api.address, topic=["Job:nothing"]) as reader:
        wait_for(lambda: len(reader.snapshot()) >= 3, message="heartbeats")
        assert all(f == {} for f in reader.snapshot())


def test_a_subscriber_that_falls_behind_is_ended(
    api: ApiServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_stream, "MAX_PENDING", 0)
    with EventReader(api.address) as reader:
        wait_for(reader.snapshot, message="subscribed")
        submit_job(store, submitted_job("todo"))
        wait_for(lambda: not reader._thread.is_alive(), message="the server to end the stream")


@pytest.mark.parametrize(
    ("query", "field"),
    [("topic=Job:a:b", "topic"), ("index=-1", "index"), ("namespace=bad%20ns", "namespace")],
)
def test_bad_parameters_are_refused(api: ApiServer, query: str, field: str) -> None:
    status, body = api.call("GET", f"/v1/event/stream?{query}")
    assert status == 400
    assert field in str(body)


def test_unchanged_payload_shapes_for_a_modified_allocation(api: ApiServer, store: Store) -> None:
    alloc = _alloc("web")
    store.put(store.keys.alloc(alloc.id), alloc)
    with EventReader(api.address, topic=["Allocation:web"]) as reader:
        wait_for(reader.snapshot, message="subscribed")
        stopped = dataclasses.replace(alloc, desired_status=DesiredStatus.STOP)
        store.put(store.keys.alloc(alloc.id), stopped)
        got = reader.wait_event(lambda e: e["Key"] == alloc.id, what="the stop")
        assert got["Type"] == "AllocationUpdateDesiredStatus"
        assert got["Payload"]["Allocation"]["DesiredStatus"] == "stop"
