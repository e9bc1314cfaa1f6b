"""A threaded HTTP server on 127.0.0.1, started and stopped with the object.

The local notification pipeline's front uses it, and the test kit's fakes build on it. Nothing
listens beyond loopback.
"""

from __future__ import annotations

import http.server
import threading
from types import TracebackType
from typing import Self


class LoopbackServer:
    """Subclasses implement `handler_class()`; `base_url` is the server's base URL."""

    # How often serve_forever looks for a shutdown request (seconds): stop() waits up to this long.
    poll_interval = 0.5

    def __init__(self, port: int = 0, *, thread_name: str | None = None) -> None:
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), self.handler_class())
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(self.poll_interval,), name=thread_name, daemon=True
        )

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
