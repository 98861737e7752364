job "todo" {
  group "web" {
    count = -1
    task "todo" {
      driver = "raw_exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
