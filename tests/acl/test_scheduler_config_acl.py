"""The scheduler configuration's operator rules on a real API server with ACLs: reading it
needs `operator` read, changing it `operator` write; a namespace rule grants neither."""

from __future__ import annotations

from reconciler.store import Store
from tests.acl.conftest import token_with
from tests.api.server import ApiServer

PATH = "/v1/operator/scheduler/configuration"


def test_reading_needs_operator_read_and_writing_operator_write(
    acl_api: ApiServer, store: Store, management: str
) -> None:
    reader = token_with(store, "op-read", 'operator { policy = "read" }')
    jobs = token_with(store, "jobs", 'namespace "*" { policy = "write" }')
    writer = token_with(store, "op-write", 'operator { policy = "write" }')
    assert acl_api.call("GET", PATH)[0] == 403
    assert acl_api.call("GET", PATH, token=jobs)[0] == 403
    assert acl_api.call("GET", PATH, token=reader)[0] == 200
    assert acl_api.call("PUT", PATH, {"PreemptionConfig": {}}, token=reader)[0] == 403
    assert acl_api.call("PUT", PATH, {"PreemptionConfig": {}}, token=writer)[0] == 200
