# A demo job that runs on any machine with Python 3: two small web servers on dynamic
# ports, registered as the service "hello". Edit `count` and save: the agent applies it.
job "hello" {
  datacenters = ["dc1"]
  type        = "service"

  group "web" {
    count = 2

    network {
      port "http" {}
    }

    service {
      name = "hello"
      port = "http"
      tags = ["urlprefix-/hello strip=/hello"]

      check {
        type     = "http"
        path     = "/"
        interval = "2s"
        timeout  = "2s"
      }
    }

    task "server" {
      driver = "raw_exec"

      config {
        command = "python3"
        args    = ["-m", "http.server", "${NOMAD_PORT_http}", "--bind", "127.0.0.1"]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
