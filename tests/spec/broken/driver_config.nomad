job "todo" {
  group "web" {
    task "todo" {
      driver = "java"
      config {
        jar_pth     = "/app.jar"
        jvm_options = "-Xmx256m"
      }
    }
  }
}
