# The scaled todo job, parameterised: try
#   reconciler validate specs/examples/todo-java-variables.nomad -var instances=3 -var canary=true
variable "jar" {
  type        = string
  default     = "/Users/christoph.kappel/Projects/showcase-nomad-quarkus/target/showcase-nomad-quarkus-0.1-runner.jar"
  description = "the Quarkus runner jar"
}

variable "instances" {
  type    = number
  default = 5
}

variable "canary" {
  type    = bool
  default = false
}

locals {
  heap        = "256m"
  header_name = "TodoServer"
  jvm_base    = ["-Xmx${local.heap}", "-Xms${local.heap}", "-Dquarkus.http.port=${NOMAD_PORT_http}"]
}

job "todo" {
  datacenters = ["dc1"]

  meta {
    instances = tostring(var.instances)
  }

  group "web" {
    count = max(1, var.instances)

    update {
      canary       = var.canary ? 1 : 0
      max_parallel = var.instances
    }

    network {
      port "http" {}
    }

    service {
      name = "todo"
      port = "http"
      tags = [format("urlprefix-/%s", lower("TODO"))]

      check {
        type     = "http"
        path     = "/"
        interval = "2s"
        timeout  = "2s"
      }
    }

    task "todo" {
      driver = "java"

      config {
        jar_path = var.jar
        jvm_options = concat(local.jvm_base, [
          "-Dquarkus.http.header.${local.header_name}.value=${NOMAD_IP_http}:${NOMAD_PORT_http}",
          "-Dquarkus.http.header.${local.header_name}.path=/todo",
        ])
      }

      resources {
        memory = 256
      }
    }
  }
}
