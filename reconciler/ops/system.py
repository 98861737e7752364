"""Cluster housekeeping an operator asks for: a forced garbage collection (Nomad's
`system gc`), carried out by the leading collector (`controllers/liveness/collector.py`),
which watches the request key, collects with every threshold at 0 and deletes the key."""

from __future__ import annotations

import logging
import time

from reconciler.store import Store

log = logging.getLogger(__name__)


def request_gc(store: Store) -> int:
    """Ask for a forced collection now; the revision of the request. Asking again while one
    is pending is one collection, as the request is one key."""
    revision = store.put(store.keys.gc_request, {"requested": time.time()})
    log.info("gc requested revision=%d", revision)
    return revision
