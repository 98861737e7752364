"""The specs watcher: applies job files in a directory, follows edits, stops deleted jobs.

It submits through `reconciler.ops.jobs.submit_job`, the same path as the HTTP API."""

from controllers.specs_watcher.watcher import SpecsWatcher

__all__ = ["SpecsWatcher"]
