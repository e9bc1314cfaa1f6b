"""The copy runs with the cyclic garbage collector mostly out of the way."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the copy with the cyclic garbage collector mostly out of the way, then restore it.

    The copy allocates millions of short-lived containers (rows, wire items) that reference
    counting frees; the default thresholds still ran full collections over every long-lived
    object (boto3's service models among them) often enough to take ~5% of the copy's CPU.
    Objects from before the copy are frozen out of collections, and collections run less often.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
