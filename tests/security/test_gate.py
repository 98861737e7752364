"""The API gate (reconciler.api.gate) over real HTTP against a real API server and etcd:
cross-site writes, DNS rebinding and CORS (review finding C1, reproduction R1)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.api.gate import GateSettings, host_allowed, normalize_origin, origin_allowed
from reconciler.model.objects import JobRecord
from reconciler.ops.jobs import submit_job
from reconciler.spec import job_to_nomad
from reconciler.store import Store
from tests.api.server import ApiServer, make_server
from tests.factories import submitted_job
from tests.security.http import send

JOB = json.dumps({"Job": job_to_nomad(submitted_job("web"))}).encode()
EVIL = "https://evil.example"
SETTINGS = GateSettings(
    bind="127.0.0.1",
    allowed_hosts=("api.example", "lb.example:8443"),
    allowed_origins=("https://ui.example",),
    own_names=("box",),
)


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("127.0.0.1:4646", True),
        ("localhost:4646", True),
        ("[::1]:4646", True),
        ("box:4646", True),
        ("10.0.0.5:4646", True),  # the address the connection arrived on
        ("127.0.0.1:4647", False),
        ("127.0.0.1", False),  # no port means 80
        ("rebind.evil.example:4646", False),
        ("api.example", True),
        ("api.example:1234", True),
        ("lb.example:8443", True),
        ("lb.example:4646", False),
    ],
    ids=lambda v: str(v),
)
def test_host_allowed(host: str, ok: bool) -> None:
    from reconciler.api.gate import split_host

    name, port = split_host(host)
    assert host_allowed(SETTINGS, name, port, "10.0.0.5", 4646) is ok


@pytest.mark.parametrize(
    ("origin", "ok"),
    [
        ("http://127.0.0.1:4646", True),
        ("http://localhost:4646", True),
        ("https://ui.example", True),
        ("https://ui.example/", True),
        ("http://ui.example", False),
        (EVIL, False),
        ("null", False),
        ("http://127.0.0.1:9999", False),
        ("file://", False),
    ],
    ids=lambda v: str(v),
)
def test_origin_allowed(origin: str, ok: bool) -> None:
    assert origin_allowed(SETTINGS, origin, "10.0.0.5", 4646) is ok


@pytest.mark.parametrize("bad", ["*", "evil.example", "http://x/path", "ftp://x", "http://u@x"])
def test_normalize_origin_refuses_non_origins(bad: str) -> None:
    with pytest.raises(ValueError, match="not an origin"):
        normalize_origin(bad)


@pytest.fixture
def gated(store: Store, tmp_path: Path) -> Iterator[ApiServer]:
    server = make_server(store, tmp_path, GateSettings(allowed_origins=("https://ui.example",)))
    yield server
    server.stop()


def job_in_etcd(store: Store) -> bool:
    return store.get(store.keys.job("default", "web"), JobRecord) is not None


def test_text_plain_post_from_a_foreign_origin_is_refused_and_changes_nothing(
    gated: ApiServer, store: Store
) -> None:
    r = send(gated.address, "POST", "/v1/jobs", JOB, content_type="text/plain", origin=EVIL)
    assert r.status == 403
    assert "Origin 'https://evil.example' is not allowed" in r.body
    assert "--allowed-origins" in r.body
    assert r.headers["content-type"].startswith("text/plain")
    assert "access-control-allow-origin" not in r.headers
    assert not job_in_etcd(store)


@pytest.mark.parametrize(
    "ctype",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/plain; charset=utf-8",
    ],
)
def test_form_encodings_are_refused_even_without_an_origin(
    gated: ApiServer, store: Store, ctype: str
) -> None:
    r = send(gated.address, "POST", "/v1/jobs", JOB, content_type=ctype)
    assert r.status == 415
    assert "needs Content-Type: application/json" in r.body
    assert not job_in_etcd(store)


def test_a_body_without_content_type_is_refused(gated: ApiServer, store: Store) -> None:
    r = send(gated.address, "PUT", "/v1/jobs", JOB)
    assert r.status == 415
    assert "no Content-Type" in r.body
    assert not job_in_etcd(store)


def test_json_from_a_plain_client_is_served(gated: ApiServer, store: Store) -> None:
    r = send(gated.address, "POST", "/v1/jobs", JOB, content_type="application/json; charset=utf-8")
    assert r.status == 200, r.body
    assert job_in_etcd(store)
    # a body-less DELETE, as python-nomad and curl send it, needs no Content-Type
    assert send(gated.address, "DELETE", "/v1/job/web").status == 200


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_foreign_host_gets_403_dns_rebinding(gated: ApiServer, method: str) -> None:
    body = JOB if method == "POST" else None
    r = send(
        gated.address,
        method,
        "/v1/jobs",
        body,
        host=f"rebind.evil.example:{gated.port}",
        content_type="application/json",
    )
    assert r.status == 403
    assert "is not an address of this agent" in r.body


def test_localhost_names_with_the_port_are_served(gated: ApiServer) -> None:
    assert send(gated.address, "GET", "/v1/jobs", host=f"localhost:{gated.port}").status == 200
    assert send(gated.address, "GET", "/v1/jobs", host="localhost:1").status == 403


def test_review_r1_parse_with_file_from_a_rebound_page_is_refused(gated: ApiServer) -> None:
    hcl = (
        b'job "x" {\n  meta { leak = file("/etc/hostname") }\n'
        b'  group "g" { task "t" { driver = "raw_exec" } }\n}\n'
    )
    r = send(
        gated.address,
        "POST",
        "/v1/jobs/parse",
        hcl,
        content_type="text/plain",
        origin=EVIL,
        host=f"rebind.evil.example:{gated.port}",
    )
    assert r.status == 403
    assert "leak" not in r.body


def test_allowed_origin_gets_cors_and_a_preflight(gated: ApiServer, store: Store) -> None:
    pre = send(
        gated.address,
        "OPTIONS",
        "/v1/jobs",
        origin="https://ui.example",
        access_control_request_method="POST",
        access_control_request_headers="content-type",
    )
    assert pre.status == 204
    assert pre.headers["access-control-allow-origin"] == "https://ui.example"
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert "Content-Type" in pre.headers["access-control-allow-headers"]
    r = send(
        gated.address, "POST", "/v1/jobs", JOB, content_type="application/json", origin="https://ui.example"
    )
    assert r.status == 200
    assert r.headers["access-control-allow-origin"] == "https://ui.example"
    assert r.headers["vary"] == "Origin"
    assert job_in_etcd(store)


def test_a_foreign_preflight_is_refused_without_cors(gated: ApiServer) -> None:
    pre = send(gated.address, "OPTIONS", "/v1/jobs", origin=EVIL, access_control_request_method="POST")
    assert pre.status == 403
    assert "access-control-allow-origin" not in pre.headers


def test_the_agents_own_origin_is_the_ui_and_needs_no_flag(gated: ApiServer, store: Store) -> None:
    r = send(gated.address, "POST", "/v1/jobs", JOB, content_type="application/json", origin=gated.address)
    assert r.status == 200
    assert r.headers["access-control-allow-origin"] == gated.address


def test_python_nomad_client_still_works(gated: ApiServer, store: Store) -> None:
    nomad = pytest.importorskip("nomad")
    client = nomad.Nomad(host="127.0.0.1", port=gated.port, timeout=10)
    client.jobs.register_job({"Job": job_to_nomad(submitted_job("web"))})
    assert [j["ID"] for j in client.jobs.get_jobs()] == ["web"]
    client.job.deregister_job("web")
    assert client.job.get_job("web")["Stop"] is True


def test_l3_no_page_may_frame_the_ui(gated: ApiServer) -> None:
    r = send(gated.address, "GET", "/ui/")
    assert r.status == 200
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["content-security-policy"] == "frame-ancestors 'none'"


@pytest.mark.parametrize(
    "path", ["/v1/jobs?per_page=1", "/v1/job/web", "/v1/job/web/allocations", "/v1/nodes"]
)
def test_a_page_may_read_every_nomad_header_a_read_answers(gated: ApiServer, store: Store, path: str) -> None:
    """The UI pages with `X-Nomad-NextToken` and blocks with `X-Nomad-Index`: a header the
    browser does not expose is invisible to the page's script."""
    for name in ("web", "worker"):
        submit_job(store, submitted_job(name))
    r = send(gated.address, "GET", path, origin="https://ui.example")
    assert r.status == 200
    exposed = {h.strip().lower() for h in r.headers["access-control-expose-headers"].split(",")}
    sent = {h for h in r.headers if h.startswith("x-nomad-")}
    assert {"x-nomad-index", "x-nomad-knownleader", "x-nomad-lastcontact"} <= sent
    if "per_page" in path:
        assert "x-nomad-nexttoken" in sent
    assert sent <= exposed
