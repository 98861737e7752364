"""`job init`, as Nomad's: write an example job file to start from. Nomad's example runs
Redis in Docker; ours runs on the machine the agent runs on with nothing to install: two
instances of Python's own web server behind the router, with a check and a rolling update."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.client import fail
from reconciler.cli.groups import job

DEFAULT_FILE = "example.nomad.hcl"

EXAMPLE = """\
# An example job that runs on this machine with nothing to install: two instances of
# Python's web server, each on a port the scheduler picks, registered in the catalog as the
# service "example" with an HTTP check, and routed by the router at /example
# (with `make run`: curl http://127.0.0.1:9999/example/).
#
#   reconciler job plan example.nomad.hcl    # what would change
#   reconciler job run example.nomad.hcl     # run it, and follow the deployment
#   reconciler job status example
job "example" {
  # a service runs until stopped; "batch" jobs run to completion
  type = "service"

  group "web" {
    count = 2

    network {
      port "http" {}
    }

    service {
      name = "example"
      port = "http"
      # the router's route (Fabio's tag syntax); strip= removes the prefix upstream
      tags = ["urlprefix-/example strip=/example"]

      check {
        type     = "http"
        path     = "/"
        interval = "5s"
        timeout  = "2s"
      }
    }

    # a change replaces one instance at a time, each healthy 5 s before the next
    update {
      max_parallel     = 1
      min_healthy_time = "5s"
      healthy_deadline = "1m"
      auto_revert      = true
    }

    task "server" {
      # raw_exec is on in `agent -dev`; elsewhere start the agent with --raw-exec
      driver = "raw_exec"

      config {
        command = "python3"
        args    = ["-m", "http.server", "${NOMAD_PORT_http}", "--bind", "127.0.0.1"]
      }

      resources {
        cpu    = 100 # MHz
        memory = 64  # MB
      }
    }
  }
}
"""


def short_example() -> str:
    """The example without its comments (`-short`)."""
    kept = [line for line in EXAMPLE.splitlines() if not line.lstrip().startswith("#")]
    lines = [line.split(" #")[0].rstrip() for line in kept]
    return "\n".join(lines) + "\n"


@job.command("init")
@click.argument("file", required=False, default=DEFAULT_FILE, type=click.Path(dir_okay=False))
@click.option("-short", "--short", is_flag=True, help="Leave out the comments.")
def job_init(file: str, short: bool) -> None:
    """Write an example job file (default example.nomad.hcl) that runs on this machine."""
    path = Path(file)
    if path.exists():
        fail(f"Job '{file}' already exists")
    path.write_text(short_example() if short else EXAMPLE)
    click.echo(f"Example job file written to {file}")
