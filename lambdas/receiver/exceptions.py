"""Why the receiver refuses a request: each error carries its HTTP status and a reason code.

The reason goes to the logs and metrics only; the response body says no more than the status,
so a caller probing the endpoint learns nothing about which check failed.
"""

from __future__ import annotations

from lambdas.shared.exceptions import LambdaError


class ReceiverError(LambdaError):
    """A request the receiver refuses; `reason` is a short snake_case code for logs and metrics."""

    status = 400
    public_message = "bad request"

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class MalformedRequest(ReceiverError):
    """The body or token cannot be parsed. The sender must fix the request; a retry will not help."""


class PayloadTooLarge(ReceiverError):
    """The body exceeds MAX_BODY_BYTES; raise the setting if a legitimate sender needs more."""

    status = 413
    public_message = "payload too large"


class VerificationFailed(ReceiverError):
    """A signature, certificate chain or token did not verify: the sender is not who it claims."""

    status = 401
    public_message = "unauthorized"


class NotForThisApp(ReceiverError):
    """Verified, but for another bundle, package, app, environment or service account."""

    status = 403
    public_message = "forbidden"


class RouteNotFound(ReceiverError):
    status = 404
    public_message = "not found"


class MethodNotAllowed(ReceiverError):
    status = 405
    public_message = "method not allowed"


class UpstreamUnavailable(ReceiverError):
    """SQS or Google's JWKS endpoint failed; a 5xx makes Apple or Pub/Sub retry later."""

    status = 503
    public_message = "temporarily unavailable, retry later"
