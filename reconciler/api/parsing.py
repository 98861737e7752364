"""Job text sent over the API (`/v1/jobs/parse`, the UI's plan) is parsed in a process of
its own, bounded in memory and time (review H9).

Values are already bounded before they are built (`reconciler.spec.functions`), but the
HCL parser itself is pure Python: a 4 MB body costs seconds of CPU, and a thread doing it
holds the GIL the event loop needs. `python -m reconciler.spec.worker` parses one job with
its address space capped (RLIMIT_AS, PARSE_MEMORY) and is killed after PARSE_TIMEOUT
seconds; either is answered 400. At most PARSE_WORKERS run at once (the rest wait for a
slot in their thread). A worker costs about a quarter of a second to start.
"""

from __future__ import annotations

import asyncio
import pickle
import subprocess
import sys
import threading
from typing import Any

from reconciler.api.errors import ApiError
from reconciler.model.job import Job
from reconciler.spec import SpecError
from reconciler.spec.worker import MEMORY_EXIT

PARSE_WORKERS = 2
PARSE_MEMORY = 1024 * 1024 * 1024  # bytes of address space a worker may use
PARSE_TIMEOUT = 20.0  # seconds one parse may take

_SLOTS = threading.BoundedSemaphore(PARSE_WORKERS)


def parse_in_worker(
    text: str, *, memory: int = PARSE_MEMORY, timeout: float = PARSE_TIMEOUT, **kwargs: Any
) -> Job:
    """`spec.parse_job(text, **kwargs)` in a worker process (blocking: call it in a thread).
    Raises SpecError as parse_job does, ApiError(400) past the memory or time limit."""
    with _SLOTS:
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "reconciler.spec.worker", str(memory)],
                input=pickle.dumps((text, kwargs)),
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ApiError(400, f"the job took longer than {timeout:g}s to parse") from None
    if proc.returncode == MEMORY_EXIT or b"MemoryError" in proc.stderr:
        raise ApiError(400, f"the job needs more than {memory >> 20} MiB to parse")
    if proc.returncode != 0:
        raise ApiError(500, f"the parse worker failed: {proc.stderr.decode(errors='replace')[-500:]}")
    ok, value = pickle.loads(proc.stdout)  # written by our own worker, never by the caller
    if not ok:
        raise SpecError(value)
    if not isinstance(value, Job):
        raise ApiError(500, f"the parse worker answered {type(value).__name__}, not a job")
    return value


async def parse_job_text(text: str, **kwargs: Any) -> Job:
    """`parse_in_worker` off the event loop."""
    return await asyncio.to_thread(parse_in_worker, text, **kwargs)
