# A sysbatch job: runs once to completion on every feasible node (and on nodes that join).
job "sweep" {
  type = "sysbatch"

  group "sweep" {
    task "sweep" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "find /tmp -maxdepth 1 -name 'sweep-*' -mtime +1 -print"]
      }
      resources {
        memory = 32
      }
    }
  }
}
