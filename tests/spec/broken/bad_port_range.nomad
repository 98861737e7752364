job "todo" {
  group "web" {
    network {
      port "http" {
        static = 70000
      }
    }
    task "todo" {
      driver = "raw_exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
