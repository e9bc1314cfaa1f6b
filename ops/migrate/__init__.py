"""The cutover: the migration procedure as a state machine with gates, a ledger and rollback."""

from ops.migrate.config import MigrateConfig
from ops.migrate.phases import ORDER, Phase, PhaseState
from ops.migrate.runner import Cutover, Interaction, PhaseOptions

__all__ = ["ORDER", "Cutover", "Interaction", "MigrateConfig", "Phase", "PhaseOptions", "PhaseState"]
