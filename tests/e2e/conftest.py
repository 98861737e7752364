from tests.agent.conftest import agent  # noqa: F401 - the same dev agent fixture
