"""Google's certs endpoint on 127.0.0.1: serves a JWKS document, counts requests, can fail on demand.

The document can be swapped while running (key rotation), so tests see the receiver's cache and
refresh behaviour.
"""

from __future__ import annotations

import http.server
import json
from collections.abc import Mapping
from typing import Any

from opstestkit.loopback import LoopbackServer, QuietHandler


class JwksServer(LoopbackServer):
    def __init__(self, document: Mapping[str, Any]) -> None:
        self._body = json.dumps(document).encode("utf-8")
        self.requests = 0
        self.fail = False
        super().__init__()

    @property
    def url(self) -> str:
        return f"{self.base_url}/oauth2/v3/certs"

    def set_document(self, document: Mapping[str, Any]) -> None:
        self._body = json.dumps(document).encode("utf-8")

    def handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                server.requests += 1
                if server.fail:
                    self.send_error(503)
                    return
                self.reply(200, server._body, "application/json")

        return Handler
