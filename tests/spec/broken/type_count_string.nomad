job "todo" {
  datacenters = ["dc1"]

  group "web" {
    count = "five"

    task "todo" {
      driver = "raw_exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
