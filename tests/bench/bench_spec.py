"""Benchmark: parse + validate time for a typical job and for a job with 100 groups.

Run with `make bench` (pytest -s tests/bench). Prints the figures; the asserts only catch
a gross regression. The figures measured on the development machine are in docs/jobspec.md.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from reconciler.spec import (
    diff_jobs,
    format_hcl,
    job_from_nomad,
    job_to_nomad,
    parse_job,
    render_diff,
    spec_hash,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "specs" / "examples"
TYPICAL = (EXAMPLES / "todo-java-scaled-service-header-canary.nomad").read_text(encoding="utf-8")

GROUP = """
  group "web{i}" {{
    count = 3
    update {{
      max_parallel = 2
      canary       = 1
    }}
    network {{
      port "http" {{}}
    }}
    service {{
      name = "web{i}"
      port = "http"
      tags = ["urlprefix-/web{i}"]
      check {{
        type     = "http"
        path     = "/health"
        interval = "5s"
        timeout  = "2s"
      }}
    }}
    task "server" {{
      driver = "raw_exec"
      config {{
        command = "/usr/bin/python3"
        args    = ["-m", "http.server", "${{NOMAD_PORT_http}}"]
      }}
      env {{
        GROUP = "web{i}"
      }}
      resources {{
        cpu    = 100
        memory = 64
      }}
    }}
  }}
"""


def big_job(groups: int) -> str:
    return (
        'job "big" {\n  datacenters = ["dc1"]\n' + "".join(GROUP.format(i=i) for i in range(groups)) + "}\n"
    )


def measure(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    fn()  # warm up (grammar load, caches)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, min(times) * 1000


def report(name: str, fn: Callable[[], object], repeat: int) -> float:
    median, best = measure(fn, repeat)
    print(f"\n  {name:<46} median {median:8.2f} ms   best {best:8.2f} ms   ({repeat} runs)")
    return median


def test_parse_and_validate_typical_job() -> None:
    median = report("parse+validate typical job (HCL)", lambda: parse_job(TYPICAL), 50)
    assert median < 500


def test_parse_and_validate_100_group_job() -> None:
    text = big_job(100)
    job = parse_job(text)
    assert len(job.task_groups) == 100
    median = report("parse+validate 100-group job (HCL)", lambda: parse_job(text), 5)
    assert median < 10_000


def test_other_paths() -> None:
    typical = parse_job(TYPICAL)
    big = parse_job(big_job(100))
    wire = json.dumps({"Job": job_to_nomad(big)})
    report("parse+validate 100-group job (Nomad JSON)", lambda: parse_job(wire, format="json"), 10)
    report("job_from_nomad 100-group job", lambda: job_from_nomad(json.loads(wire)), 10)
    report("spec_hash typical job", lambda: spec_hash(typical), 200)
    report("format_hcl 100-group job", lambda: format_hcl(big), 5)
    report("diff_jobs + render_diff 100-group job", lambda: render_diff(diff_jobs(big, big)), 5)
