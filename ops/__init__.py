"""platform-ops: PostgreSQL -> DynamoDB migration tooling and the subscription notification pipeline."""

__version__ = "0.1.0"
