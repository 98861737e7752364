"""The job submission path: one set of functions used by the API, the CLI (through the API)
and the specs watcher, so a job enters the system one way only."""

from reconciler.jobs.submit import SubmitResult, create_eval, job_history, stop_job, submit_job

__all__ = ["SubmitResult", "create_eval", "job_history", "stop_job", "submit_job"]
