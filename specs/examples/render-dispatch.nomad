# A parameterized batch job with lifecycle tasks: run it with
#   reconciler job dispatch -meta user=ann render input.json
# the payload lands in local/input.json; `prepare` finishes before `render` starts, `cache`
# runs beside it as a sidecar, `cleanup` runs after both have ended.
job "render" {
  type = "batch"

  parameterized {
    payload       = "required"
    meta_required = ["user"]
    meta_optional = ["quality"]
  }

  group "render" {
    restart {
      attempts = 3
      delay    = "1s"
    }

    task "prepare" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "mkdir -p ${NOMAD_ALLOC_DIR}/work"]
      }
      lifecycle {
        hook = "prestart"
      }
    }

    task "cache" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "while true; do sleep 5; done"]
      }
      lifecycle {
        hook    = "prestart"
        sidecar = true
      }
    }

    task "render" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "cat local/input.json > ${NOMAD_ALLOC_DIR}/work/out-${NOMAD_META_user}.json"]
      }
      dispatch_payload {
        file = "input.json"
      }
    }

    task "cleanup" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "ls ${NOMAD_ALLOC_DIR}/work"]
      }
      lifecycle {
        hook = "poststop"
      }
    }
  }
}
