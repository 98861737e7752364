"""Deployment status descriptions, worded as Nomad words them (users grep for these)."""

from __future__ import annotations


class Desc:
    RUNNING = "Deployment is running"
    NEEDS_PROMOTION = "Deployment is running but requires manual promotion"
    AUTO_PROMOTION = "Deployment is running pending automatic promotion"
    PAUSED = "Deployment is paused"
    SUCCESSFUL = "Deployment completed successfully"
    STOPPED_JOB = "Cancelled because job is stopped"
    NEWER_JOB = "Cancelled due to newer version of job"
    FAILED_ALLOCATIONS = "Failed due to unhealthy allocations"
    PROGRESS_DEADLINE = "Failed due to progress deadline"
    FAILED_BY_USER = "Deployment marked as failed"

    @staticmethod
    def rollback(base: str, version: int) -> str:
        return f"{base} - rolling back to job version {version}"

    @staticmethod
    def no_rollback(base: str) -> str:
        return f"{base} - no stable job version to auto revert to"
