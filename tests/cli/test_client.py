"""The CLI's one HTTP client and its one error path, against a real HTTP server: JSON
errors become `Error: <message>` and exit 1 (or a command's own wording), raw bytes and
streams come through `ApiClient`, and an unreachable agent is one line."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from reconciler.cli.client import ApiClient, ApiClientError
from reconciler.cli.main import cli
from tests.ports import free_port


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass

    def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.startswith("/v1/evaluation/"):
            self._send(404, json.dumps({"error": "evaluation not found"}).encode())
        elif self.path.startswith("/v1/job/web/versions"):
            self._send(500, b"plain failure")
        elif self.path.startswith("/raw"):
            self._send(200, b"\x00bytes\n", "text/plain")
        elif self.path.startswith("/stream"):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"one\n", b"two\n"):
                self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        else:
            self._send(404, b"{}")


@pytest.fixture
def address() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Handler)
    t = threading.Thread(target=server.serve_forever, name="test-http", daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    t.join(5)


def run(address: str, *args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, ["--address", address, *args])
    return res.exit_code, res.stdout, res.stderr


def test_an_api_error_no_command_words_is_one_line_and_exit_1(address: str) -> None:
    code, out, err = run(address, "eval", "status", "abc")
    assert (code, out, err) == (1, "", "Error: evaluation not found\n")


def test_a_command_words_its_own_errors(address: str) -> None:
    code, _, err = run(address, "job", "history", "web")
    assert (code, err) == (1, "Error retrieving job versions: plain failure\n")


def test_raw_and_stream_read_through_the_one_client(address: str) -> None:
    api = ApiClient(address)
    assert api.raw("GET", "/raw", params={"a": "1"}) == b"\x00bytes\n"
    chunks: list[bytes] = []
    api.stream("/stream", chunks.append)
    assert b"".join(chunks) == b"one\ntwo\n"
    with pytest.raises(ApiClientError) as exc:
        api.get("/v1/evaluation/x")
    assert (exc.value.status, exc.value.message) == (404, "evaluation not found")


def test_an_unreachable_agent_is_one_line() -> None:
    address = f"http://127.0.0.1:{free_port()}"
    code, out, err = run(address, "node", "status")
    assert code == 1
    assert out == ""
    assert err.startswith(f"Error: cannot reach the reconciler agent at {address}: ")
    assert err.count("\n") == 1
