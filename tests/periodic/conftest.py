from tests.agent.conftest import agent

__all__ = ["agent"]
