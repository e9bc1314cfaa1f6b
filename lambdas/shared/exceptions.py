"""One base class for every error the notification Lambdas raise on purpose.

Each message says what is wrong and what to do; none carries a token or personal data.
"""

from __future__ import annotations


class LambdaError(Exception):
    """Base class: an expected failure of a notification Lambda."""


class ConfigurationError(LambdaError):
    """An environment variable is missing or invalid; raised at cold start."""


class MessageFormatError(LambdaError):
    """An SQS message body does not follow the NotificationMessage contract."""
