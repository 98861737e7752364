"""One schema per driver: job validation and the driver accept and refuse the same configs."""

from __future__ import annotations

from typing import Any

import pytest

from controllers.driver_runner.drivers import validate_task_config
from reconciler.model.job import Job, Task, TaskGroup
from reconciler.spec import validate

CASES = [
    pytest.param("java", {"jar_path": "local/app.jar"}, True, id="java-jar"),
    pytest.param("java", {"class": "Hello", "class_path": "local"}, True, id="java-class"),
    pytest.param("java", {"jar_path": "local/app.jar", "class": "Hello"}, True, id="java-both-as-nomad"),
    pytest.param("java", {"jvm_options": ["-Xmx64m"]}, False, id="java-neither"),
    pytest.param("java", {"jar_path": "a.jar", "jar_pth": "b"}, False, id="java-unknown-field"),
    pytest.param("raw_exec", {"command": "/bin/true", "args": ["1"]}, True, id="raw-exec"),
    pytest.param("raw_exec", {"args": ["1"]}, False, id="raw-exec-no-command"),
    pytest.param("exec", {"command": "/bin/true"}, True, id="exec"),
    pytest.param("exec", {"command": ["/bin/true"]}, False, id="exec-command-not-a-string"),
]


@pytest.mark.parametrize(("driver", "config", "ok"), CASES)
def test_validation_and_driver_agree(driver: str, config: dict[str, Any], ok: bool) -> None:
    job = Job(id="j", task_groups=[TaskGroup(name="g", tasks=[Task(name="t", driver=driver, config=config)])])
    spec_issues = [i for i in validate(job) if ".config" in i.path]
    driver_errors = validate_task_config(driver, config)
    assert (not spec_issues, not driver_errors) == (ok, ok), (spec_issues, driver_errors)
