"""The user story's canary in the browser: the job page shows the deployment waiting for
promotion and its table; "Promote Canary" finishes the rollout (real Chromium, real agent)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.agent.harness import AgentProcess
from tests.factories import job_file, update_block


def test_promote_canary_from_the_job_page(agent: AgentProcess, page: Any, tmp_path: Path) -> None:
    for release in ("1", "2"):
        update = update_block(canary=1, max_parallel=2, min_healthy_time="1s", health_check="task_states")
        path = job_file(
            tmp_path,
            "todo",
            name=f"job-{release}.nomad",
            job="canaryui",
            count=2,
            update=update,
            release=release,
        )
        res = agent.cli("apply", "-f", str(path))
        assert res.returncode == 0, res.stdout + res.stderr
    page.goto(agent.address + "/ui/#/job/canaryui")
    section = page.get_by_test_id("deployment")
    expect(section).to_contain_text("Deployment is running but requires manual promotion", timeout=20_000)
    groups = page.get_by_test_id("deployment-groups")
    expect(groups.locator("thead")).to_contain_text("Promoted")
    expect(groups.locator("thead")).to_contain_text("Canaries")
    expect(groups.locator("tbody tr").first).to_contain_text("false")
    expect(page.get_by_test_id("allocations").get_by_text("(canary)")).to_have_count(1)
    page.get_by_role("button", name="Promote Canary").click()
    expect(section).to_contain_text("Deployment completed successfully", timeout=30_000)
    expect(page.get_by_role("button", name="Promote Canary")).to_have_count(0)
    expect(groups.locator("tbody tr").first).to_contain_text("true")
    dep = agent.get("/v1/job/canaryui/deployment")
    assert dep["Status"] == "successful"
    assert dep["TaskGroups"]["web"]["Promoted"]
