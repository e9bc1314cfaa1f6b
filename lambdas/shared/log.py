"""Structured JSON logs for the Lambdas: one JSON object per line, fields passed explicitly.

Nothing logs a full token, signed payload or personal data: identifiers that could link to a
person or act as a credential go through `fingerprint` first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from typing import Any

_FIELDS = "structured_fields"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, _FIELDS, {}))
        if record.exc_info and record.exc_info[0] is not None:
            # The type only: exception messages can quote the input that caused them.
            entry["exception"] = record.exc_info[0].__name__
        return json.dumps(entry, default=str, separators=(",", ":"))


class StdoutHandler(logging.Handler):
    """Writes to whatever `sys.stdout` is at emit time (the Lambda runtime and pytest swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


def get_logger(name: str) -> logging.Logger:
    """A logger writing JSON lines to stdout at LOG_LEVEL (default INFO), configured once."""
    logger = logging.getLogger(name)
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        handler = StdoutHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        # The Lambda runtime puts its own plain-text handler on the root logger.
        logger.propagate = False
    logger.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    return logger


def fields(**values: Any) -> dict[str, Any]:
    """`extra=` argument that attaches `values` as top-level JSON fields of the log line."""
    return {_FIELDS: values}


def fingerprint(value: str) -> str:
    """A short stable digest of an identifier: correlates log lines without revealing the value."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]
