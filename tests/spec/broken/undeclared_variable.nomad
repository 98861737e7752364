job "todo" {
  group "web" {
    count = var.instances
    task "todo" {
      driver = "raw_exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
