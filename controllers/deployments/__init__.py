"""The deployment controller: follows each job version's rollout, judges allocation health
(`health`), moves the deployment through its statuses (`progress`), and writes the result
(`controller`). Run it under leader election with `DeploymentService(store, identity)`."""
