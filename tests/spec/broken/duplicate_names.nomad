job "todo" {
  group "web" {
    network {
      port "http" {}
      port "http" {}
    }
    task "todo" {
      driver = "raw_exec"
      config {
        command = "/bin/true"
      }
    }
    task "todo" {
      driver = "raw_exec"
      config {
        command = "/bin/false"
      }
    }
  }
}
