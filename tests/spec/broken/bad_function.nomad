job "todo" {
  datacenters = [uper("dc1")]
  group "web" {
    task "todo" {
      driver = "raw_exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
