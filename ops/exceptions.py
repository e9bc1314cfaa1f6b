"""One base class for every error the ops package raises on purpose.

Each error's message says what is wrong and what to do about it; the CLI prints it as is and
exits non-zero without a traceback.
"""

from __future__ import annotations


class OpsError(Exception):
    """Base class: an expected failure with an operator-facing message."""

    exit_code = 1


class ConfigError(OpsError):
    """Configuration (environment, mapping file, options) is missing or invalid."""

    exit_code = 2


class SandboxError(OpsError):
    """The local stack cannot be started, reached or stopped."""


class GateFailed(OpsError):
    """A verification gate refused a phase transition."""
