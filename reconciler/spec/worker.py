"""`python -m reconciler.spec.worker LIMIT`: parse one job in a process of its own, with its
address space capped at LIMIT bytes (RLIMIT_AS), for job text sent over the API (review H9).

Reads a pickled `(text, parse_job keyword arguments)` on stdin and writes a pickled
`(True, Job)` or `(False, [SpecIssue, ...])` on stdout; a parse past the memory limit exits
with MEMORY_EXIT. The parent (`reconciler.api.parsing`) kills it past its deadline.
"""

from __future__ import annotations

import pickle
import resource
import sys

MEMORY_EXIT = 3


def main() -> None:
    from reconciler.spec import SpecError, parse_job  # imported before the cap: it bounds the parse

    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        text, kwargs = pickle.load(sys.stdin.buffer)
        try:
            out: tuple[bool, object] = (True, parse_job(text, **kwargs))
        except SpecError as exc:
            out = (False, exc.errors)
        data = pickle.dumps(out)
    except MemoryError:
        sys.exit(MEMORY_EXIT)
    sys.stdout.buffer.write(data)


if __name__ == "__main__":
    main()
