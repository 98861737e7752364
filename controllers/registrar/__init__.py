"""The service registrar: one per node; turns the `service` stanzas of running allocations
into catalog entries (`services/`) bound to its lease, and runs their health checks
(`checks/`)."""

from controllers.registrar.controller import Registrar

__all__ = ["Registrar"]
