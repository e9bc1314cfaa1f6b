"""The local stack: two PostgreSQL clusters, DynamoDB Local and moto's server on loopback."""

from ops.sandbox.stack import Sandbox, SandboxInfo

__all__ = ["Sandbox", "SandboxInfo"]
