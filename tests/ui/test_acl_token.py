"""The web UI with ACLs on, in a real Chromium: a call that answers 403 makes the page ask
for a token; the token is kept in localStorage and sent as X-Nomad-Token from then on.
(Here beside the other browser tests: the session's browser keeps an event loop on the
main thread, which later in-process API servers cannot share, so it starts last.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.acl.test_agent import secret_of
from tests.agent.harness import AgentProcess

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
from playwright.sync_api import expect


@pytest.fixture
def acl_agent(tmp_path: Path) -> Iterator[AgentProcess]:
    a = AgentProcess(tmp_path, acl=True)
    a.start()
    a.token = secret_of(a.cli("acl", "bootstrap").stdout)
    yield a
    a.stop()


def test_a_403_asks_for_a_token_which_then_is_sent(acl_agent: AgentProcess, page: Any) -> None:
    acl_agent.request(
        "POST",
        "/v1/jobs",
        {
            "Job": {
                "ID": "ui-acl",
                "Datacenters": ["dc1"],
                "TaskGroups": [
                    {
                        "Name": "g",
                        "Count": 0,
                        "Tasks": [{"Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/true"}}],
                    }
                ],
            }
        },
    )
    page.goto(acl_agent.address + "/ui/")
    expect(page.locator("#acl-reason")).to_contain_text("Permission denied")
    page.get_by_label("ACL token secret ID").fill("not-a-real-token")
    page.get_by_role("button", name="Set Token").click()
    expect(page.locator("#acl-reason")).to_contain_text("ACL token not found")
    page.get_by_label("ACL token secret ID").fill(acl_agent.token)
    page.get_by_role("button", name="Set Token").click()
    expect(page.get_by_test_id("jobs").get_by_role("link", name="ui-acl")).to_be_visible()
    assert page.evaluate("localStorage.getItem('reconciler.acl.token')") == acl_agent.token
    page.reload()  # kept across loads
    expect(page.get_by_test_id("jobs").get_by_role("link", name="ui-acl")).to_be_visible()
    page.get_by_role("link", name="ACL Token").click()
    page.get_by_role("button", name="Clear Token").click()
    expect(page.locator("#acl-reason")).to_contain_text("Permission denied")
