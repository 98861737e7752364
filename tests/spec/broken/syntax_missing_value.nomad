job "todo" {
  group "web" {
    count =
  }
}
