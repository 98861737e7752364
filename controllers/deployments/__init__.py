"""The deployment controller: follows each job version's rollout, judges allocation health
(`health`), moves the deployment through its statuses (`progress`), builds the one
transaction of each step, auto-revert included (`decide`), and commits it (`controller`).
Run it under leader election with `DeploymentService(store, identity)`."""
