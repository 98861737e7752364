"""Deployments shared by the deployment controller, the scheduler and the API: Nomad's
status descriptions and the user's operations (promote, fail, pause) as pure functions.
The transactions that apply them live in `reconciler.ops.deployments`."""

from reconciler.deployments.descriptions import Desc
from reconciler.deployments.rules import (
    DeploymentError,
    apply_fail,
    apply_pause,
    apply_promote,
    awaiting_promotion,
    running_description,
)

__all__ = [
    "DeploymentError",
    "Desc",
    "apply_fail",
    "apply_pause",
    "apply_promote",
    "awaiting_promotion",
    "running_description",
]
