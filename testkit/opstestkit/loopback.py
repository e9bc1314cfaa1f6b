"""A threaded HTTP server on 127.0.0.1, started and stopped with the object: the base of every fake here.

Nothing listens beyond loopback; a short poll interval keeps shutdown (once per test) fast.
"""

from __future__ import annotations

import http.server
import json
import threading
from types import TracebackType
from typing import Any, Self


class LoopbackServer:
    """Subclasses implement `handler_class()`; `url` is the server's base URL."""

    def __init__(self) -> None:
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self.handler_class())
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    def handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


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
