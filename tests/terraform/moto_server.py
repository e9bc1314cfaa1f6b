"""moto's server with the fixes the Terraform emulator run needs.

Run as `python -m tests.terraform.moto_server -H 127.0.0.1 -p PORT` (the arguments of moto.server).

- moto gives every RDS instance the same DbiResourceId, and the AWS provider looks an instance up by
  it: with two V2 replicas (staging and prod) in one account, the second one's reads find the first
  and its apply fails with "couldn't find resource". Each instance gets a resource ID of its own.
- moto leaves a new DMS replication task "creating" for ever; the provider waits for "ready", which
  a real task reaches within minutes. It is ready at once.
- moto's DMS answers timestamps as ISO strings where the DMS JSON protocol has epoch seconds; the
  provider's SDK refuses them ("expected TStamp to be a JSON Number"). They are sent as numbers.
- Every response closes its connection (HTTP/1.0). With keep-alive, the provider's SDK sometimes
  sent a request again on a busy machine after the server had already carried it out, and a
  created route came back as RouteAlreadyExists.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from moto.dms import models as dms_models
from moto.moto_server.werkzeug_app import MotoRequestHandler
from moto.rds import models as rds_models
from moto.server import main

DMS_TIMESTAMPS = frozenset(
    {
        "InstanceCreateTime",
        "ReplicationTaskCreationDate",
        "ReplicationTaskStartDate",
        "FreshStartDate",
        "StartDate",
        "StopDate",
        "FullLoadStartDate",
        "FullLoadFinishDate",
    }
)

_create_instance = rds_models.DBInstance.__init__
_create_task = dms_models.FakeReplicationTask.__init__


def _instance_with_its_own_resource_id(self: Any, *args: Any, **kwargs: Any) -> None:
    _create_instance(self, *args, **kwargs)
    self.dbi_resource_id = f"db-{secrets.token_hex(13).upper()}"


def _task_ready_once_created(self: Any, *args: Any, **kwargs: Any) -> None:
    _create_task(self, *args, **kwargs)
    self.ready()


def epoch_timestamps(value: Any) -> Any:
    """The same document with every DMS timestamp given as epoch seconds."""
    if isinstance(value, dict):
        return {
            key: datetime.fromisoformat(item).timestamp()
            if key in DMS_TIMESTAMPS and isinstance(item, str)
            else epoch_timestamps(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [epoch_timestamps(item) for item in value]
    return value


def _numeric_timestamps(to_dict: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    def to_dict_with_epoch_timestamps(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return dict(epoch_timestamps(to_dict(self, *args, **kwargs)))

    return to_dict_with_epoch_timestamps


rds_models.DBInstance.__init__ = _instance_with_its_own_resource_id  # type: ignore[method-assign]
dms_models.FakeReplicationTask.__init__ = _task_ready_once_created  # type: ignore[method-assign]
for model in (dms_models.FakeReplicationInstance, dms_models.FakeReplicationTask):
    model.to_dict = _numeric_timestamps(model.to_dict)  # type: ignore[method-assign]

MotoRequestHandler.protocol_version = "HTTP/1.0"

if __name__ == "__main__":
    main(sys.argv[1:])
