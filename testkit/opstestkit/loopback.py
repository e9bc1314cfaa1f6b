"""The base of every fake here: the ops package's loopback HTTP server, and a quiet JSON handler."""

from __future__ import annotations

import http.server
import json
from typing import Any

from ops import loopback


class LoopbackServer(loopback.LoopbackServer):
    """Subclasses implement `handler_class()`; `base_url` is the server's base URL."""

    # A short poll interval keeps shutdown (once per test) fast.
    poll_interval = 0.02


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that logs nothing and answers JSON or bytes in one call."""

    def reply_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.reply(status, json.dumps(body).encode("utf-8"), "application/json", headers)

    def reply(
        self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def log_message(self, format: str, *args: Any) -> None:
        return
