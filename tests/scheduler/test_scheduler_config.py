"""The scheduler configuration through Nomad's operator endpoint and CLI, on a real API
server and etcd: its default, a write read back, check-and-set, the fields it refuses.
(The operator ACL rules: tests/acl/test_scheduler_config_acl.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.cli.client import ApiClient, ApiClientError
from reconciler.cli.main import cli

PATH = "/v1/operator/scheduler/configuration"


def run(api: ApiClient, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["--address", api.address, *args])
    return res.exit_code, res.output


def test_the_default_is_nomads_system_scheduler_only(api: ApiClient) -> None:
    cfg = api.get(PATH)["SchedulerConfig"]
    assert cfg["PreemptionConfig"] == {
        "SystemSchedulerEnabled": True,
        "SysBatchSchedulerEnabled": False,
        "BatchSchedulerEnabled": False,
        "ServiceSchedulerEnabled": False,
    }
    assert cfg["SchedulerAlgorithm"] == "binpack"
    assert cfg["ModifyIndex"] == 0


def test_a_write_is_read_back_and_check_and_set_guards_it(api: ApiClient) -> None:
    cfg: dict[str, Any] = api.get(PATH)["SchedulerConfig"]
    cfg["PreemptionConfig"] = {"SystemSchedulerEnabled": True, "ServiceSchedulerEnabled": True}
    resp = api.put(PATH, cfg)
    assert resp["Updated"] is True
    got = api.get(PATH)["SchedulerConfig"]
    assert got["PreemptionConfig"]["ServiceSchedulerEnabled"] is True
    assert got["PreemptionConfig"]["BatchSchedulerEnabled"] is False  # missing is false, as in Nomad
    assert got["ModifyIndex"] == resp["Index"]
    stale = api.put(PATH, cfg, cas=got["ModifyIndex"] - 1)
    assert stale["Updated"] is False
    assert api.put(PATH, cfg, cas=got["ModifyIndex"])["Updated"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"SchedulerAlgorithm": "spread"}, "SchedulerAlgorithm"),
        ({"MemoryOversubscriptionEnabled": True}, "MemoryOversubscriptionEnabled"),
        (
            {"PreemptionConfig": {"ServiceSchedulerEnabled": "yes"}},
            "PreemptionConfig.ServiceSchedulerEnabled",
        ),
    ],
)
def test_what_the_scheduler_cannot_honour_is_refused(
    api: ApiClient, body: dict[str, Any], field: str
) -> None:
    with pytest.raises(ApiClientError) as err:
        api.put(PATH, body)
    assert err.value.status == 400
    assert err.value.field == field


def test_the_cli_gets_and_sets_with_nomads_flags(api: ApiClient) -> None:
    code, out = run(api, "operator", "scheduler", "get-config")
    assert code == 0, out
    assert "Preemption System Scheduler   = true" in out
    assert "Preemption Service Scheduler  = false" in out
    code, out = run(api, "operator", "scheduler", "set-config", "-preempt-service-scheduler=true")
    assert code == 0, out
    assert out.strip() == "Scheduler configuration updated!"
    code, out = run(api, "operator", "scheduler", "get-config")
    assert "Preemption Service Scheduler  = true" in out
    assert "Preemption System Scheduler   = true" in out  # left as it was
    code, out = run(
        api, "operator", "scheduler", "set-config", "-preempt-batch-scheduler=true", "-check-index=1"
    )
    assert code == 0, out
    assert "could not be atomically updated" in out
