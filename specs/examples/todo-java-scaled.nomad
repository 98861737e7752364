job "todo" {
  datacenters = ["dc1"]

  group "web" {
    count = 5

    task "todo" {
      driver = "java"

      config {
        jar_path = "/Users/christoph.kappel/Projects/showcase-nomad-quarkus/target/showcase-nomad-quarkus-0.1-runner.jar"
        jvm_options = [
          "-Xmx256m", "-Xms256m",
          "-Dquarkus.http.port=${NOMAD_PORT_http}" # <1>
        ]
      }

      resources {
        memory = 256
      }
    }

    network {
      port "http" {}
    }
  }
}
