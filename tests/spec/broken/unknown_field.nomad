job "todo" {
  datacenters = ["dc1"]
  group "web" {
    coutn = 3
    task "todo" {
      driver = "raw_exec"
      config {
        command = "/bin/true"
      }
      resources {
        memroy = 256
      }
    }
  }
}
