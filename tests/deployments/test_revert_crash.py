"""A deployment controller killed (SIGKILL) just before or just after it commits an
auto-revert loses nothing and doubles nothing: a new controller lands the revert exactly
once (one new job version, not zero, not two). Real etcd, a real child process."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from controllers.deployments.controller import DeploymentController
from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.deployments import Desc
from reconciler.model.objects import Deployment, DeploymentGroupState, DeploymentStatus, JobRecord
from reconciler.ops.jobs import job_history, submit_job
from reconciler.store import Store
from tests.scheduler.factories import mock_job
from tests.waiting import wait_for

DEP = "dep-crash"
REPO = Path(__file__).resolve().parents[2]

# The child runs a real DeploymentController whose commit is cut by killing the process
# (no cleanup, no finally blocks): "before" dies between deciding and applying, "after"
# dies once etcd applied the transaction but before anything else happened.
CHILD = textwrap.dedent("""
    import os, signal, sys
    from controllers.deployments.controller import DeploymentController
    from reconciler.store import Store

    endpoint, prefix, when = sys.argv[1:4]

    class Killed(DeploymentController):
        def apply(self, plan):
            if plan.txn is not None and plan.revert is not None:
                if when == "after":
                    super().apply(plan)
                os.kill(os.getpid(), signal.SIGKILL)
            super().apply(plan)

    Killed(Store([endpoint], prefix=prefix)).start()
    signal.pause()
""")


def failed_deployment_owing_a_revert(store: Store) -> None:
    """Version 0 stable, version 1 current, and version 1's deployment failed by the user
    with auto_revert: the controller owes the revert to version 0."""
    submit_job(store, mock_job(1))
    v0 = store.get(store.keys.job_version("default", "web", 0), JobRecord)
    assert v0 is not None
    store.put(v0.key, dataclasses.replace(v0.value, stable=True))
    submit_job(store, mock_job(2))
    store.put(
        store.keys.deployment(DEP),
        Deployment(
            id=DEP,
            namespace="default",
            job_id="web",
            job_version=1,
            status=DeploymentStatus.FAILED,
            status_description=Desc.FAILED_BY_USER,
            task_groups={"web": DeploymentGroupState(auto_revert=True, desired_total=2)},
        ),
    )


def versions(store: Store) -> list[int]:
    return sorted(r.version for r in job_history(store, "default", "web"))


@pytest.mark.parametrize(
    "when", ["before", "after"], ids=["killed before the commit", "killed after the commit"]
)
def test_a_killed_controller_neither_loses_nor_repeats_the_revert(
    store: Store, etcd: EmbeddedEtcd, prefix: str, when: str
) -> None:
    failed_deployment_owing_a_revert(store)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, etcd.endpoint, prefix, when],
        env=env,
        timeout=60,
        capture_output=True,
        text=True,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert versions(store) == ([0, 1, 2] if when == "after" else [0, 1]), (
        "the kill cut the commit where asked"
    )

    c = DeploymentController(store)
    c.start()
    try:
        dep = wait_for(
            lambda: (
                (d := store.get(store.keys.deployment(DEP), Deployment))
                and d.value.auto_revert_decided
                and d.value
            ),
            message="the revert decided",
        )
        assert dep.status_description == "Deployment marked as failed - rolling back to job version 0"
        cur = wait_for(
            lambda: (
                (r := store.get(store.keys.job("default", "web"), JobRecord))
                and r.value.version == 2
                and r.value
            ),
            message="version 2 submitted",
        )
        assert cur.job == mock_job(1), "version 2 is version 0's spec"
        c.enqueue(DEP)  # look once more: a decided revert is not submitted again
        wait_for(c.queue.idle, message="the controller idle")
    finally:
        c.stop()
    assert versions(store) == [0, 1, 2], "exactly one new job version"
