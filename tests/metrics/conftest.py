from tests.agent.conftest import agent  # noqa: F401 - the dev agent fixture
