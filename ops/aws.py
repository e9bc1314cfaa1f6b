"""Every AWS client in the ops package is built here.

boto3 already honours `AWS_ENDPOINT_URL` and the per-service `AWS_ENDPOINT_URL_<SERVICE>`
variables, so the same code reaches the local stack (moto's server, DynamoDB Local), LocalStack or
AWS. `OPS_USE_LOCALSTACK=1` builds clients through `localstack-client` instead (it points every
service at `LOCALSTACK_HOST`).
"""

from __future__ import annotations

import os
import threading
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config

_DEFAULT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=30,
    max_pool_connections=64,
)

_lock = threading.Lock()
_sessions: dict[tuple[str, str], Any] = {}


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def session() -> Any:
    """A boto3 (or localstack-client) session for the current region, shared per thread."""
    key = (region(), str(threading.get_ident()))
    with _lock:
        if key not in _sessions:
            if os.environ.get("OPS_USE_LOCALSTACK") == "1":
                import localstack_client.session

                _sessions[key] = localstack_client.session.Session(
                    region_name=region(), localstack_host=os.environ.get("LOCALSTACK_HOST")
                )
            else:
                _sessions[key] = boto3.session.Session(region_name=region())
        return _sessions[key]


def client(service: str, config: Config | None = None) -> Any:
    """A low-level client. Endpoint variables are read at call time, so tests can move them."""
    merged = _DEFAULT_CONFIG.merge(config) if config else _DEFAULT_CONFIG
    return session().client(service, config=merged)


def streams_client() -> Any:
    """DynamoDB Streams. The stream lives with the table: without an endpoint of its own
    (AWS_ENDPOINT_URL_DYNAMODB_STREAMS), the DynamoDB endpoint serves it (DynamoDB Local included)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB_STREAMS") or os.environ.get(
        "AWS_ENDPOINT_URL_DYNAMODB"
    )
    if endpoint:
        return session().client("dynamodbstreams", endpoint_url=endpoint, config=_DEFAULT_CONFIG)
    return client("dynamodbstreams")


def resource(service: str) -> Any:
    return session().resource(service, config=_DEFAULT_CONFIG)


def endpoint_url(service: str) -> str | None:
    """The endpoint a client for `service` will use, for display (None means AWS's own)."""
    specific = os.environ.get(f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}")
    return specific or os.environ.get("AWS_ENDPOINT_URL")


def reset() -> None:
    """Forget cached sessions (after the environment changes, e.g. between test stacks)."""
    with _lock:
        _sessions.clear()


def metric_datapoints(
    namespace: str,
    metric: str,
    dimension: tuple[str, str],
    window: tuple[datetime, datetime],
    *,
    period: int,
    statistic: str,
) -> list[dict[str, Any]]:
    """CloudWatch's datapoints of one metric of one resource (`dimension`: name, value) in `window`."""
    start, end = window
    response = client("cloudwatch").get_metric_statistics(
        Namespace=namespace,
        MetricName=metric,
        Dimensions=[{"Name": dimension[0], "Value": dimension[1]}],
        StartTime=start,
        EndTime=end,
        Period=period,
        Statistics=[statistic],
    )
    return list(response.get("Datapoints", []))
