"""Watch a directory of job files (watchdog) and reconcile etcd toward it.

Every change only puts the file's path on a work queue; a worker waits until the file has
been quiet for `debounce` seconds (editors save in bursts), then looks at the file as it is
now: present and valid -> submit (a new version only if the spec changed); present and
invalid -> report file:line and change nothing; absent -> stop the job that came from it.
On start, every file is applied, and jobs recorded as coming from a file of this directory
that no longer exists are stopped (the file was deleted while the agent was down).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from controllers.specs_watcher.files import is_job_file, job_files
from reconciler import spec
from reconciler.model.objects import JobRecord
from reconciler.ops.jobs import InvalidIdentifier, JobNotFound, stop_job, submit_job
from reconciler.runtime.workqueue import ShutDown, WorkQueue
from reconciler.store import Store, StoreError

log = logging.getLogger("reconciler.controller.specs_watcher")


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: SpecsWatcher) -> None:
        self.watcher = watcher

    # Reading a file raises "opened"/"closed_no_write" events; only changes matter, or the
    # watcher's own reads would trigger it again.
    CHANGES = frozenset({"created", "modified", "deleted", "moved", "closed"})

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type not in self.CHANGES:
            return
        for p in (event.src_path, getattr(event, "dest_path", "")):
            if p:
                self.watcher.notify(Path(str(p)))


class SpecsWatcher:
    def __init__(self, store: Store, directory: Path, *, debounce: float = 0.3) -> None:
        self.store = store
        self.directory = directory.resolve()
        self.debounce = debounce
        self.queue: WorkQueue[Path] = WorkQueue()
        self._last_event: dict[Path, float] = {}
        self._lock = threading.Lock()
        self._observer: Observer | None = None  # type: ignore[valid-type]
        self._thread: threading.Thread | None = None
        # file -> (namespace, job id) it produced, to stop the right job on delete
        self.origins: dict[Path, tuple[str, str]] = {}
        self.errors: dict[Path, str] = {}

    # lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self._load_origins()
        for path in job_files(self.directory):
            self.queue.add(path)
        for path in list(self.origins):
            if not path.exists():
                self.queue.add(path)
        observer = Observer()
        observer.schedule(_Handler(self), str(self.directory), recursive=False)
        observer.start()
        self._observer = observer
        self._thread = threading.Thread(target=self._worker, name="specs-watcher", daemon=True)
        self._thread.start()
        log.info("specs watcher dir=%s started", self.directory)

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(5)
        self.queue.shutdown()
        if self._thread is not None:
            self._thread.join(10)

    def idle(self) -> bool:
        return self.queue.idle()

    # events ------------------------------------------------------------------------------
    def notify(self, path: Path) -> None:
        path = path.resolve() if path.exists() else path.parent.resolve() / path.name
        if not is_job_file(path, self.directory):
            return
        with self._lock:
            self._last_event[path] = time.monotonic()
        self.queue.add_after(path, self.debounce)

    def _load_origins(self) -> None:
        items, _ = self.store.list(self.store.keys.jobs, JobRecord)
        for item in items:
            rec = item.value
            if rec.source_file and not rec.stop:
                p = Path(rec.source_file)
                if p.parent == self.directory:
                    self.origins[p] = (rec.namespace, rec.id)

    def _worker(self) -> None:
        while True:
            try:
                path = self.queue.get()
            except ShutDown:
                return
            try:
                with self._lock:
                    quiet_for = time.monotonic() - self._last_event.get(path, 0.0)
                if quiet_for < self.debounce:
                    self.queue.add_after(path, self.debounce - quiet_for)
                    continue
                self.sync(path)
                self.queue.forget(path)
            except StoreError as exc:
                delay = self.queue.add_rate_limited(path)
                log.warning("specs file=%s store error %s; retry in %.1fs", path, exc, delay)
            finally:
                self.queue.done(path)

    # the decision ------------------------------------------------------------------------
    def sync(self, path: Path) -> None:
        """Make etcd match the file as it is now."""
        if not path.exists():
            origin = self.origins.pop(path, None)
            self.errors.pop(path, None)
            if origin is None:
                return
            try:
                eval_id = stop_job(self.store, origin[0], origin[1]).eval_id
                log.info("specs file=%s deleted: job=%s/%s stopped eval=%s", path.name, origin[0], origin[1], eval_id)
            except JobNotFound:
                pass
            return
        try:
            job = spec.load_job_file(str(path))
        except spec.SpecError as exc:
            msg = "; ".join(str(e) for e in exc.errors)
            self.errors[path] = msg
            log.error("specs file=%s invalid, job left unchanged: %s", path.name, msg)
            return
        except OSError as exc:
            log.error("specs file=%s unreadable: %s", path.name, exc)
            return
        try:
            res = submit_job(self.store, job, source_file=str(path))
        except InvalidIdentifier as exc:
            self.errors[path] = str(exc)
            log.error("specs file=%s invalid: %s", path.name, exc)
            return
        self.errors.pop(path, None)
        previous = self.origins.get(path)
        self.origins[path] = (job.namespace, job.id)
        if previous is not None and previous != (job.namespace, job.id):
            with contextlib.suppress(JobNotFound):
                stop_job(self.store, previous[0], previous[1])
        log.info(
            "specs file=%s job=%s/%s version=%d %s eval=%s", path.name, job.namespace, job.id, res.version,
            "registered" if res.changed else "unchanged", res.eval_id,
        )
