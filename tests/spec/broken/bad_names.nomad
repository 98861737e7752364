job "todo app" {
  group "web/1" {
    task "../escape" {
      driver = "raw_exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
