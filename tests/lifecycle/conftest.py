from tests.driver_runner.conftest import agent

__all__ = ["agent"]
