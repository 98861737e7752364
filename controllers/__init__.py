"""Controllers: one package each. They import `reconciler` (model, store, runtime) and never
each other; they cooperate only through etcd keys."""
