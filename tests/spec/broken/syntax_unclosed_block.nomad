job "todo" {
  group "web" {
    count = 1
