"""`reconciler event stream`'s lines for people, table-driven, and its line splitting."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.cli.event_cmds import Lines, event_line, summary

ALLOC = {"Name": "todo.web[0]", "NodeName": "node-1", "DesiredStatus": "run", "ClientStatus": "running"}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param(
            {"Topic": "Job", "Payload": {"Job": {"Version": 2, "Status": "running"}}},
            "version 2, running",
            id="job",
        ),
        pytest.param(
            {"Topic": "Job", "Payload": {"Job": {"Version": 3, "Status": "dead", "Stop": True}}},
            "version 3, dead, stopped",
            id="job-stopped",
        ),
        pytest.param(
            {"Topic": "Allocation", "Payload": {"Allocation": ALLOC}},
            "todo.web[0] on node-1: desired run, client running",
            id="alloc",
        ),
        pytest.param(
            {
                "Topic": "Evaluation",
                "Payload": {
                    "Evaluation": {"JobID": "todo", "TriggeredBy": "job-register", "Status": "complete"}
                },
            },
            "job todo (job-register): complete",
            id="eval",
        ),
        pytest.param(
            {
                "Topic": "Deployment",
                "Payload": {"Deployment": {"JobID": "todo", "JobVersion": 1, "Status": "running"}},
            },
            "job todo version 1: running",
            id="deployment",
        ),
        pytest.param(
            {
                "Topic": "Node",
                "Payload": {
                    "Node": {
                        "Name": "n",
                        "Status": "ready",
                        "SchedulingEligibility": "eligible",
                        "Drain": True,
                    }
                },
            },
            "n ready, eligible, draining",
            id="node",
        ),
        pytest.param(
            {
                "Topic": "Service",
                "Payload": {
                    "Service": {
                        "ServiceName": "todo",
                        "Address": "127.0.0.1",
                        "Port": 8080,
                        "AllocID": "0123456789",
                    }
                },
            },
            "todo at 127.0.0.1:8080 (alloc 01234567)",
            id="service",
        ),
        pytest.param({"Topic": "CSIVolume", "Payload": {}}, "", id="unknown-topic"),
        pytest.param({"Topic": "Job", "Payload": {}}, "", id="missing-payload"),
    ],
)
def test_summary(event: dict[str, Any], expected: str) -> None:
    assert summary(event) == expected


def test_an_event_line_shortens_uuid_keys_only() -> None:
    alloc = event_line({"Topic": "Allocation", "Type": "AllocationUpdated", "Key": "0123456789abcdef"}, "T")
    job = event_line({"Topic": "Job", "Type": "JobRegistered", "Key": "a-long-job-name"}, "T")
    assert alloc.split() == ["T", "Allocation", "AllocationUpdated", "01234567"]
    assert job.split() == ["T", "Job", "JobRegistered", "a-long-job-name"]


def test_lines_joins_frames_split_across_chunks() -> None:
    got: list[bytes] = []
    lines = Lines(got.append)
    for chunk in [b'{"Index"', b':1}\n{}\n\n{"In', b'dex":2}\n']:
        lines.feed(chunk)
    assert got == [b'{"Index":1}', b"{}", b'{"Index":2}']
