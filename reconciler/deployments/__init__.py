"""Deployments shared by the deployment controller, the scheduler and the API: Nomad's
status descriptions, and the user's operations (promote, fail, pause) as pure functions plus
the compare-revision transactions that apply them."""

from reconciler.deployments.descriptions import Desc
from reconciler.deployments.ops import (
    DeploymentError,
    DeploymentNotFound,
    fail_deployment,
    latest_for_job,
    pause_deployment,
    promote_deployment,
)
from reconciler.deployments.rules import (
    apply_fail,
    apply_pause,
    apply_promote,
    awaiting_promotion,
    running_description,
)

__all__ = [
    "DeploymentError",
    "DeploymentNotFound",
    "Desc",
    "apply_fail",
    "apply_pause",
    "apply_promote",
    "awaiting_promotion",
    "fail_deployment",
    "latest_for_job",
    "pause_deployment",
    "promote_deployment",
    "running_description",
]
