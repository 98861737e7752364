"""The agent: the composition root. `wiring` is the only module in `reconciler` allowed to
import `controllers`; `etcd_process` runs the embedded etcd for dev mode and tests."""
