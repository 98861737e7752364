job "todo" {
  group "web" {
    netwrk {
      port "http" {}
    }
    task "todo" {
      driver = "raw_exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
