"""The user story's browser steps: paste a job, Plan, Run, see it running; clients listed."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.agent.harness import AgentProcess

JOB = """job "uidemo" {
  datacenters = ["dc1"]
  group "web" {
    count = 2
    network {
      port "http" {}
    }
    task "server" {
      driver = "raw_exec"
      config {
        command = "python3"
        args    = ["-m", "http.server", "${NOMAD_PORT_http}", "--bind", "127.0.0.1"]
      }
      resources {
        memory = 64
      }
    }
  }
}
"""


def test_paste_plan_run_and_watch_it_run(agent: AgentProcess, page: Any) -> None:
    page.goto(agent.address + "/ui/")
    page.get_by_text("No jobs yet").wait_for()
    page.get_by_role("link", name="Run Job").click()
    page.get_by_label("Job definition").fill(JOB)
    run = page.locator("#run")
    assert run.is_disabled(), "Run is offered only after a successful Plan"
    page.get_by_role("button", name="Plan").click()
    plan = page.get_by_test_id("plan-text")
    plan.wait_for()
    text = plan.inner_text()
    assert '+ Job: "uidemo"' in text
    assert '+ Task Group: "web" (2 create)' in text
    assert "All tasks successfully allocated." in text
    run.click()
    page.wait_for_url("**/ui/#/job/uidemo")
    page.get_by_role("heading", name="uidemo").wait_for()
    # the job page follows live state: both allocations turn "running" without a reload
    allocations = page.get_by_test_id("allocations")
    expect(allocations.locator("tbody tr")).to_have_count(2, timeout=20_000)
    expect(allocations.get_by_text("running", exact=True)).to_have_count(2, timeout=20_000)
    page.get_by_role("link", name="Jobs", exact=True).click()
    expect(page.get_by_test_id("jobs").get_by_role("link", name="uidemo")).to_be_visible()


def test_a_broken_job_shows_the_line_and_cannot_be_run(agent: AgentProcess, page: Any) -> None:
    page.goto(agent.address + "/ui/#/run")
    page.get_by_label("Job definition").fill('job "x" {\n  group "g" {\n    count = "many"\n  }\n}\n')
    page.get_by_role("button", name="Plan").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "3" in alert.inner_text()
    assert "count" in alert.inner_text()
    assert page.locator("#run").is_disabled()


def test_clients_page_lists_the_dev_node(agent: AgentProcess, page: Any) -> None:
    page.goto(agent.address + "/ui/#/nodes")
    table = page.get_by_test_id("nodes")
    table.wait_for()
    assert table.get_by_text("test-node").is_visible()
    assert table.get_by_text("ready").is_visible()
