"""A task's setup before its first start: the driver is there and healthy, the config is
valid for it, a dispatched job's payload is written to `local/<dispatch_payload.file>`,
the artifacts are fetched and the templates rendered, in that order (Nomad's
task runner prestart hooks). The first failure is the event the task fails with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controllers.driver_runner import artifacts, status, templates
from controllers.driver_runner.drivers import TaskDriver
from reconciler.model.alloc_dir import AllocDir, PathEscapeError
from reconciler.model.job import Task
from reconciler.model.objects import TaskEvent


def set_up(
    task: Task,
    config: dict[str, Any],
    driver: TaskDriver | None,
    driver_name: str,
    alloc_dir: AllocDir,
    env: dict[str, str],
    *,
    emit: Callable[[TaskEvent], None],
    payload: bytes = b"",
    file_roots: tuple[str, ...] = (),
) -> TaskEvent | None:
    """Set the task up, reporting progress through `emit`; the failure event, or None when
    the task is ready to start."""
    emit(status.event(status.SETUP, "Building Task Directory"))
    failure = _driver_failure(driver, driver_name, config)
    if failure is not None:
        return failure
    if task.dispatch_payload is not None:
        try:
            alloc_dir.write_payload(task.name, task.dispatch_payload.file, payload)
        except (PathEscapeError, OSError) as exc:
            return status.event(status.SETUP_FAILURE, f"failed to write the dispatch payload: {exc}")
    task_dir = alloc_dir.task_dir(task.name)
    if task.artifacts:
        emit(status.event(status.DOWNLOADING, "Client is downloading artifacts"))
    for art in task.artifacts:
        try:
            artifacts.fetch(art, task_dir=task_dir, alloc_root=alloc_dir.root, file_roots=file_roots)
        except artifacts.ArtifactError as exc:
            return status.event(status.ARTIFACT_FAILED, str(exc))
    if task.templates:
        try:
            templates.render_all(task.templates, env, task_dir=task_dir, alloc_root=alloc_dir.root)
        except (templates.TemplateError, OSError) as exc:
            return status.event(status.TEMPLATE_FAILED, str(exc))
    return None


def _driver_failure(driver: TaskDriver | None, driver_name: str, config: dict[str, Any]) -> TaskEvent | None:
    if driver is None:
        return status.event(status.DRIVER_FAILURE, f"driver {driver_name!r} is not available on this node")
    fp = driver.fingerprint()
    if not (fp.detected and fp.healthy):
        return status.event(
            status.DRIVER_FAILURE, f"driver {driver_name!r} is not usable on this node: {fp.description}"
        )
    errors = driver.validate(config)
    if errors:
        return status.event(status.VALIDATION_FAILED, "; ".join(errors))
    return None
