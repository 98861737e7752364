# A periodic batch job: never run itself; a child `report/periodic-<unix time>` is launched
# at each cron time (docs/jobspec.md, Workload kinds). `reconciler job periodic force report`
# launches one now.
job "report" {
  type = "batch"

  periodic {
    crons            = ["0 6 * * 1-5", "30 12 * * *"]
    time_zone        = "Europe/Berlin"
    prohibit_overlap = true
  }

  group "report" {
    task "report" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "date; echo report done"]
      }
      resources {
        memory = 32
      }
    }
  }
}
