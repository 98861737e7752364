"""The agent's own services (controllers/registrar/own_services.py) against a real etcd and
a real HTTP endpoint: registered with `source="self"`, checked (critical while the endpoint
does not answer, passing once it does), and gone from the catalog when stopped."""

from __future__ import annotations

from pathlib import Path

from controllers.registrar.own_services import OwnService, OwnServices
from reconciler.model.services import CheckState, CheckStatus, ServiceRegistration
from reconciler.store import Store
from tests.fileserver import serve_directory
from tests.waiting import wait_for


def statuses(store: Store) -> dict[str, CheckState]:
    return {c.value.service_name: c.value.status for c in store.list(store.keys.checks, CheckStatus)[0]}


def test_own_services_are_registered_checked_and_removed_on_stop(store: Store, tmp_path: Path) -> None:
    (tmp_path / "ok").write_text("fine")
    with serve_directory(tmp_path) as url:
        port = int(url.rsplit(":", 1)[1])
        own = OwnServices(
            store,
            [
                OwnService("reconciler", "127.0.0.1", port, "/ok"),
                OwnService("router", "127.0.0.1", port, "/nope"),
            ],
            owner="node one",
            node_id="n1",
        )
        own.start()
        try:
            regs = {
                r.value.service_name: r.value for r in store.list(store.keys.services, ServiceRegistration)[0]
            }
            assert sorted(regs) == ["reconciler", "router"]
            assert {r.source for r in regs.values()} == {"self"}
            assert regs["reconciler"].id == f"_reconciler-node_one-reconciler-{port}"
            wait_for(
                lambda: statuses(store) == {"reconciler": CheckState.PASSING, "router": CheckState.CRITICAL},
                10,
                message="the reconciler check passing and the router's (404) critical",
            )
        finally:
            own.stop()
    assert store.list(store.keys.services, ServiceRegistration)[0] == []
    assert store.list(store.keys.checks, CheckStatus)[0] == []
