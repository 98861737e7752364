variable "jar" {
  type = string
}

job "todo" {
  group "web" {
    task "todo" {
      driver = "java"
      config {
        jar_path = var.jar
      }
    }
  }
}
