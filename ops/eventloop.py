"""`run(main)`: asyncio.run on uvloop's event loop when it is installed, else on asyncio's own.

The backfill sends thousands of requests per second from one loop; uvloop's C implementation
of the loop and its transports takes a fifth or more off the CPU each request costs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
