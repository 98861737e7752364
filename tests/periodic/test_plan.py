"""The dry run of a template job places nothing: a periodic or parameterized job only ever
runs as its children (Nomad's plan shows the diff and no allocations)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from controllers.scheduler.plan import plan_job
from reconciler.model.job import Job, JobType, Parameterized, Periodic
from reconciler.model.objects import Node
from reconciler.store import Store
from tests.factories import submitted_job
from tests.scheduler.factories import mock_node


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param({"periodic": Periodic(cron="@daily")}, id="periodic"),
        pytest.param({"parameterized": Parameterized()}, id="parameterized"),
        pytest.param({}, id="plain-batch-places"),
    ],
)
def test_a_template_plans_no_allocation(store: Store, kind: dict[str, object]) -> None:
    node: Node = mock_node("n1")
    store.put(store.keys.node(node.id), node)
    job: Job = replace(submitted_job("report"), type=JobType.BATCH, **kind)
    got = plan_job(store, job)
    assert got.created == (0 if kind else 1)
