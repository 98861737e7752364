"""The Consul-compatible HTTP API (catalog, health, agent, status, KV) over the same etcd."""
