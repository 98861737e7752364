"""`job status` lines of a template job, pure: Nomad's Periodic, Parameterized and Next
Periodic Launch."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reconciler.cli.output import fmt_time
from reconciler.cli.template_status import template_fields
from reconciler.model.job import Job, JobType, Parameterized, Periodic
from reconciler.spec import job_to_nomad
from tests.factories import submitted_job

T0 = 1_767_268_800.0  # 2026-01-01 12:00:00 UTC
BATCH = replace(submitted_job("report"), type=JobType.BATCH)


@pytest.mark.parametrize(
    ("job", "want"),
    [
        pytest.param(BATCH, [("Periodic", "false"), ("Parameterized", "false")], id="plain"),
        pytest.param(
            replace(BATCH, periodic=Periodic(cron="0 13 * * *")),
            [
                ("Periodic", "true"),
                ("Parameterized", "false"),
                ("Next Periodic Launch", fmt_time((T0 + 3600) * 1e9)),
            ],
            id="periodic",
        ),
        pytest.param(
            replace(BATCH, periodic=Periodic(cron="0 13 * * *", enabled=False)),
            [("Periodic", "true"), ("Parameterized", "false"), ("Next Periodic Launch", "none")],
            id="disabled",
        ),
        pytest.param(
            replace(BATCH, parameterized=Parameterized()),
            [("Periodic", "false"), ("Parameterized", "true")],
            id="parameterized",
        ),
        pytest.param(
            replace(BATCH, parameterized=Parameterized(), dispatched=True, parent_id="x"),
            [("Periodic", "false"), ("Parameterized", "false")],
            id="dispatched-child",
        ),
    ],
)
def test_template_fields(job: Job, want: list[tuple[str, object]]) -> None:
    assert template_fields(job_to_nomad(job), now=T0) == want
