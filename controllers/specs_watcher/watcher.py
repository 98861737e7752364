"""Watch a directory of job files (watchdog) and reconcile etcd toward it.

A controller on the shared runtime (`reconciler.runtime.Controller`) whose source is
watchdog instead of an informer: every change only puts the file's path on the work queue;
`reconcile(path)` waits until the file has been quiet for `debounce` seconds (editors save
in bursts, `Requeue`), then looks at the file as it is now: present and valid -> submit (a
new version only if the spec changed); present and invalid -> report the error (file:line
for a spec error, the exception for anything else the parser raised) and change nothing;
absent -> stop the job that came from it, if it still does (not once submitted through
the API or another file). A file naming a job another file of the directory already
defines is refused and reported, so two files never take turns. Anything else that
fails (etcd, a lost race) is retried by the runtime's worker with per-key backoff, so no
exception ends the watcher.
On start, every file is applied, and jobs recorded (in the jobs informer's cache) as
coming from a file of this directory that no longer exists are stopped (the file was
deleted while the agent was down).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from controllers.specs_watcher.files import is_job_file, job_files
from reconciler import spec
from reconciler.model.job import Job
from reconciler.model.objects import JobRecord
from reconciler.ops.job_stop import stop_job
from reconciler.ops.jobs import InvalidIdentifier, JobNotFound, submit_job
from reconciler.runtime import Controller, Requeue
from reconciler.store import Store


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


class SpecsWatcher(Controller):
    name = "specs_watcher"

    def __init__(
        self,
        store: Store,
        directory: Path,
        *,
        debounce: float = 0.3,
        load: Callable[[str], Job] = spec.load_job_file,
    ) -> None:
        super().__init__(store)
        self.directory = directory.resolve()
        self.debounce = debounce
        self.load = load
        self.jobs = self.informer(self.keys.jobs, JobRecord)
        self._last_event: dict[Path, float] = {}
        self._lock = threading.Lock()
        self._observer: Observer | None = None  # type: ignore[valid-type]
        # file -> (namespace, job id) it produced, to stop the right job on delete
        self.origins: dict[Path, tuple[str, str]] = {}
        self.errors: dict[Path, str] = {}

    # lifecycle ---------------------------------------------------------------------------
    def on_start(self) -> None:
        self._load_origins()
        for path in job_files(self.directory):
            self.enqueue(str(path))
        for path in list(self.origins):
            if not path.exists():
                self.enqueue(str(path))
        observer = Observer()
        observer.schedule(_Handler(self), str(self.directory), recursive=False)
        observer.start()
        self._observer = observer
        self.log.info("specs watcher dir=%s started", self.directory)

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(5)
            self._observer = None
        super().stop()

    def idle(self) -> bool:
        return self.queue.idle()

    # events ------------------------------------------------------------------------------
    def notify(self, path: Path) -> None:
        path = path.resolve() if path.exists() else path.parent.resolve() / path.name
        if not is_job_file(path, self.directory):
            return
        with self._lock:
            self._last_event[path] = time.monotonic()
        self.queue.add_after(str(path), self.debounce)

    def _load_origins(self) -> None:
        for rec in self.jobs.list():
            if rec.source_file and not rec.stop:
                p = Path(rec.source_file)
                if p.parent == self.directory:
                    self.origins[p] = (rec.namespace, rec.id)

    def _claimed_by(self, path: Path, origin: tuple[str, str]) -> Path | None:
        """Another file of the directory, still there, that the job `origin` came from: two
        files must not take turns writing one job (review M11)."""
        for other, claimed in self.origins.items():
            if other != path and claimed == origin and other.exists():
                return other
        return None

    def _still_from(self, origin: tuple[str, str], path: Path) -> bool:
        """Does the job still come from `path`? A job since submitted another way (the API,
        another file) is not stopped when this file goes."""
        got = self.store.get(self.store.keys.job(*origin), JobRecord)  # not the cache: it may lag
        return got is not None and got.value.source_file == str(path) and not got.value.stop

    def reconcile(self, key: str) -> Requeue | None:
        path = Path(key)
        with self._lock:
            quiet_for = time.monotonic() - self._last_event.get(path, 0.0)
        if quiet_for < self.debounce:
            return Requeue(self.debounce - quiet_for)
        self.sync(path)
        return None

    # the decision ------------------------------------------------------------------------
    def sync(self, path: Path) -> None:
        """Make etcd match the file as it is now."""
        if not path.exists():
            origin = self.origins.pop(path, None)
            self.errors.pop(path, None)
            if origin is None or not self._still_from(origin, path):
                return
            try:
                eval_id = stop_job(self.store, origin[0], origin[1]).eval_id
                self.log.info(
                    "specs file=%s deleted: job=%s/%s stopped eval=%s",
                    path.name,
                    origin[0],
                    origin[1],
                    eval_id,
                )
            except JobNotFound:
                pass
            return
        try:
            job = self.load(str(path))
        except spec.SpecError as exc:
            msg = "; ".join(str(e) for e in exc.errors)
            self.errors[path] = msg
            self.log.error("specs file=%s invalid, job left unchanged: %s", path.name, msg)
            return
        except OSError as exc:
            self.log.error("specs file=%s unreadable: %s", path.name, exc)
            return
        except Exception as exc:  # a parser bug: report it; retrying cannot help
            self.errors[path] = f"{path.name}: the parser failed ({type(exc).__name__}: {exc})"
            self.log.exception("specs file=%s parser failed, job left unchanged", path.name)
            return
        other = self._claimed_by(path, (job.namespace, job.id))
        if other is not None:
            self.errors[path] = (
                f"{path.name}: job {job.namespace}/{job.id} is already defined by {other.name}; "
                "the job is left as that file says"
            )
            self.log.error("specs %s", self.errors[path])
            return
        try:
            res = submit_job(self.store, job, source_file=str(path))
        except InvalidIdentifier as exc:
            self.errors[path] = str(exc)
            self.log.error("specs file=%s invalid: %s", path.name, exc)
            return
        self.errors.pop(path, None)
        previous = self.origins.get(path)
        self.origins[path] = (job.namespace, job.id)
        if previous is not None and previous != (job.namespace, job.id):
            with contextlib.suppress(JobNotFound):
                stop_job(self.store, previous[0], previous[1])
        self.log.info(
            "specs file=%s job=%s/%s version=%d %s eval=%s",
            path.name,
            job.namespace,
            job.id,
            res.version,
            "registered" if res.changed else "unchanged",
            res.eval_id,
        )
