job "todo" {
  group "web" {
    update {
      min_healthy_time = "ten seconds"
    }
    task "todo" {
      driver     = "raw_exec"
      kill_timeout = 5
      config {
        command = "/bin/true"
      }
    }
  }
}
