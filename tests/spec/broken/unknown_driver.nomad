job "todo" {
  group "web" {
    task "todo" {
      driver = "dockr"
      config {
        image = "nginx"
      }
    }
  }
}
