from tests.agent.conftest import agent  # noqa: F401 - the dev agent fixture
from tests.api.conftest import api  # noqa: F401 - the same real API server fixture
