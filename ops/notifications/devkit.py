"""The dev-only test kit (`opstestkit`, in testkit/ of the repository), loaded on demand.

`ops notifications serve|send` and the demo stand Apple and Google in with its fakes. It is not a
dependency of the product: application engineers who install platform-ops never get it, and these
commands say how to install it instead of failing with an ImportError.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ops.exceptions import ConfigError


def require_testkit() -> ModuleType:
    """The `opstestkit` package; ConfigError naming the install command when it is missing."""
    try:
        return importlib.import_module("opstestkit")
    except ModuleNotFoundError:
        raise ConfigError(
            "this command runs against local fakes of Apple and Google from the dev-only test kit, "
            "which is not installed: run `make setup` in the repository (or `pip install -e ./testkit`)"
        ) from None
