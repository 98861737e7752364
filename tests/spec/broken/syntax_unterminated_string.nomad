job "todo" {
  datacenters = ["dc1]
}
