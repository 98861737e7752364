"""The domain: the job a user writes (`job`), every object stored in etcd beside it
(`objects`, `services`), and the rules about them that more than one component needs
(`alloc_status`, `evals`, `taskenv`, `drivers`, `summary`, `alloc_dir`). Each object is a
plain data class; `reconciler.codec` turns any of them into the JSON that one etcd key holds
and back. This package imports nothing else of `reconciler`; docs/architecture.md lists
which module holds which concept."""
