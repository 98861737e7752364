"""Fuzzed HTTP requests for an API face's route table (Nomad's or Consul's) and the checks
every answer must pass: no 5xx but the documented ones, no traceback in a body, and a
refused request (4xx) leaves etcd exactly as it was."""

from __future__ import annotations

import http.client
import json
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from reconciler.store import Store
from tests.fuzzing import json_shaped, mutated

# 501: an endpoint or a field not served (api/unserved.py); 503: no etcd quorum or no leader;
# 504: an exec that ran past its Timeout (api/alloc_exec.py)
DOCUMENTED_5XX = frozenset({501, 503, 504})
# the Consul face's answer to `?dc=` naming another datacenter is Consul's own: a 500
CONSUL_NO_DC = b"No path to datacenter "
# read only as far as the headers when they answer 200: they stream until the client leaves
STREAMING = frozenset({"/v1/event/stream", "/v1/client/fs/logs/{alloc_id}"})
TRACEBACK = re.compile(rb"Traceback \(most recent call last\)|File \"[^\"]+\.py\", line \d+")

QUERY_KEYS = [
    "index",
    "wait",
    "prefix",
    "filter",
    "per_page",
    "next_token",
    "namespace",
    "region",
    "stale",
    "purge",
    "keys",
    "recurse",
    "separator",
    "topic",
    "task",
    "type",
    "origin",
    "offset",
    "reverse",
    "all",
    "passing",
    "dc",
    "cas",
    "flags",
]
QUERY_VALUES = [
    "",
    "0",
    "1",
    "-1",
    "99999999999999999999999",
    "true",
    "false",
    "*",
    "default",
    "web",
    "x\x00y",
    "\u00e9\u4e2d",
    '"',
    'Name == "web"',
    'Status matches "("',
    "not (",
    "Job.ID is empty",
    "a" * 300,
]
# an index makes a read a blocking query: it is always sent with a short wait (or a bad one)
SHORT_WAITS = ["0s", "1ms", "20ms", "0", "-1s", "x", "10q"]
TOKEN_CHARS = st.characters(min_codepoint=33, max_codepoint=126)  # what a header can carry
PATH_TEXT = ["", ".", "..", "%", "%00", " ", "a/b", "\u00e9", "*", "-", "x" * 200, "node-1", "web"]

json_values = json_shaped(["Job", "Name", "ID", "Count", "Meta", "Rules"])


@dataclass(frozen=True)
class Fuzzed:
    method: str
    path: str
    body: bytes | None
    content_type: str
    token: str = ""


def bodies(templates: Sequence[Any]) -> st.SearchStrategy[bytes | None]:
    shaped = (
        st.one_of(json_values, *[mutated(t, json_values) for t in templates]) if templates else json_values
    )
    return st.one_of(
        st.none(),
        shaped.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=64),
        st.sampled_from([b"{", b"[1,", b'{"Job": NaN}', b'{"Job": Infinity}', b"\xff\xfe", b"null", b'"x"']),
    )


@st.composite
def queries(draw: st.DrawFn) -> str:
    keys = st.one_of(st.sampled_from(QUERY_KEYS), st.text(max_size=6))
    values = st.one_of(st.sampled_from(QUERY_VALUES), st.text(max_size=12))
    query = draw(st.dictionaries(keys, values, max_size=4))
    if "index" in query:
        query["wait"] = draw(st.sampled_from(SHORT_WAITS))
    elif query.get("wait") == "":
        del query["wait"]
    return urllib.parse.urlencode(query)


@st.composite
def requests(
    draw: st.DrawFn,
    method: str,
    pattern: str,
    params: Mapping[str, Sequence[str]],
    templates: Sequence[Any],
    tokens: Sequence[str] = (),
) -> Fuzzed:
    """A request to `pattern`: its {params} from `params` (ids that exist) or odd text, and
    with `tokens` (secrets that exist) or odd ones as its X-Nomad-Token."""

    def fill(match: re.Match[str]) -> str:
        known = params.get(match.group(1), [])
        raw = draw(st.one_of(st.sampled_from([*known, *PATH_TEXT]), st.text(max_size=12)))
        return urllib.parse.quote(raw, safe="")

    path = re.sub(r"\{(\w+)\}", fill, pattern)
    query = draw(queries())
    body = draw(bodies(templates)) if method in ("POST", "PUT") else draw(st.one_of(st.none(), bodies(())))
    ctype = draw(st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded", ""]))
    token = (
        draw(st.one_of(st.sampled_from(["", *tokens]), st.text(TOKEN_CHARS, max_size=8))) if tokens else ""
    )
    return Fuzzed(method, path + (f"?{query}" if query else ""), body, ctype, token)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    @property
    def outcome(self) -> str:
        """For the summary: the class of a status, or the status itself for a 5xx."""
        return str(self.status) if self.status >= 500 else f"{self.status // 100}xx"


def send(port: int, req: Fuzzed, *, streaming: bool) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        headers = {"Content-Type": req.content_type} if req.content_type else {}
        if req.token:
            headers["X-Nomad-Token"] = req.token
        conn.request(req.method, req.path, body=req.body, headers=headers)
        resp = conn.getresponse()
        if streaming and resp.status == 200:
            return Answer(resp.status, b"")
        return Answer(resp.status, resp.read())
    finally:
        conn.close()


def revisions(store: Store) -> dict[str, int]:
    """Every key under the store's prefix with its mod revision: what a refusal must keep."""
    items, _ = store.list_raw(store.keys.prefix)
    return {i.key: i.mod_revision for i in items}


def check(store: Store, port: int, pattern: str, req: Fuzzed) -> Answer:
    before = revisions(store)
    answer = send(port, req, streaming=pattern in STREAMING)
    where = f"{req.method} {req.path} body={req.body!r} -> {answer.status} {answer.body[:300]!r}"
    assert answer.status < 500 or answer.status in DOCUMENTED_5XX or answer.body.startswith(CONSUL_NO_DC), (
        where
    )
    assert not TRACEBACK.search(answer.body), where
    if 400 <= answer.status < 500:
        assert revisions(store) == before, f"a refused request wrote to etcd: {where}"
    return answer
