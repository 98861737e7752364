job "todo" {
  group "web" {
    network {
      port "http" {}
    }
    service {
      name = "todo"
      port = "htp"
      check {
        type = "http"
        path = "/"
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
