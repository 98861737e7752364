"""Hypothesis strategies for job models (any shape the model allows, defaults filled in)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from reconciler.model import job as m
from reconciler.spec import fill_defaults
from reconciler.spec.unsupported import is_refused


def supported(
    stanza: str, field: str, strategy: st.SearchStrategy[Any], default: Any
) -> st.SearchStrategy[Any]:
    """`strategy` for a field the readers accept, else its default: generated jobs hold only
    what can be submitted (a field comes back here when its row leaves `unsupported.py`)."""
    return st.just(default) if is_refused(stanza, field) else strategy


names = st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True)
texts = st.text(max_size=12)
tricky = st.sampled_from(
    [
        "${NOMAD_PORT_http}",
        "$${x}",
        "${var.x}",
        "%{ if }",
        'a"b',
        "back\\slash",
        "line\nbreak",
        '${env["HOME"]}',
        "${",
        "}",
        "$",
        "%{",
        "tab\there",
        "${node.unique.name}:${meta.rack}",
    ]
)
strings = st.one_of(texts, tricky, st.lists(st.one_of(texts, tricky), max_size=3).map("".join))
durations = st.one_of(st.integers(0, 10**13), st.sampled_from([0, 2 * m.SECOND, 5 * m.MINUTE, 1_500_000]))
small = st.integers(0, 1000)
scalars = st.one_of(
    strings,
    st.integers(-(10**9), 10**9),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False, width=32).filter(lambda f: not f.is_integer()),
)
values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(strings, inner, max_size=3)),
    max_leaves=4,
)
string_maps = st.dictionaries(strings, strings, max_size=3)

constraints = st.builds(
    m.Constraint,
    attribute=strings,
    operator=st.sampled_from(["=", "!=", "regexp", "distinct_hosts"]),
    value=strings,
)
checks = st.builds(
    m.Check,
    name=st.one_of(st.just(""), strings),
    type=st.sampled_from(["http", "tcp", "script"]),
    path=strings,
    method=st.sampled_from(["GET", "POST"]),
    header=st.dictionaries(strings, st.lists(strings, max_size=2), max_size=2),
    protocol=st.sampled_from(["http", "https"]),
    port=names,
    interval=durations,
    timeout=durations,
    command=strings,
    args=st.lists(strings, max_size=2),
    task=strings,
    success_before_passing=small,
    failures_before_critical=small,
)
services = st.builds(
    m.Service,
    name=st.one_of(st.just(""), names),
    port=names,
    tags=st.lists(strings, max_size=3),
    canary_tags=st.lists(strings, max_size=2),
    meta=string_maps,
    address_mode=st.sampled_from(["auto", "host"]),
    checks=st.lists(checks, max_size=2),
    check_restart=supported(
        "service",
        "check_restart",
        st.one_of(
            st.none(), st.builds(m.CheckRestart, limit=small, grace=durations, ignore_warnings=st.booleans())
        ),
        None,
    ),
)
updates = st.builds(
    m.UpdateStrategy,
    max_parallel=small,
    canary=small,
    min_healthy_time=durations,
    healthy_deadline=durations,
    progress_deadline=durations,
    auto_revert=st.booleans(),
    auto_promote=st.booleans(),
    health_check=st.sampled_from(["checks", "task_states"]),
    stagger=supported("update", "stagger", durations, 30 * m.SECOND),
)
migrates = st.builds(
    m.MigrateStrategy,
    max_parallel=small,
    health_check=st.sampled_from(["checks", "task_states"]),
    min_healthy_time=durations,
    healthy_deadline=durations,
)
restarts = st.builds(
    m.RestartPolicy,
    attempts=small,
    interval=durations,
    delay=durations,
    mode=st.sampled_from(["fail", "delay"]),
)
reschedules = st.builds(
    m.ReschedulePolicy,
    attempts=small,
    interval=durations,
    delay=durations,
    delay_function=st.sampled_from(["constant", "exponential"]),
    max_delay=durations,
    unlimited=st.booleans(),
)
tasks = st.builds(
    m.Task,
    name=names,
    driver=st.sampled_from(["raw_exec", "exec", "java", "other"]),
    config=st.dictionaries(strings, values, max_size=4),
    env=string_maps,
    resources=st.builds(
        m.Resources,
        cpu=small,
        memory=small,
        memory_max=small,
        cores=supported("resources", "cores", small, 0),
    ),
    services=st.lists(services, max_size=2),
    artifacts=st.lists(
        st.builds(
            m.Artifact,
            source=strings,
            destination=strings,
            mode=st.sampled_from(["any", "file"]),
            options=string_maps,
            headers=string_maps,
            archive=st.booleans(),
        ),
        max_size=2,
    ),
    templates=st.lists(
        st.builds(
            m.Template,
            data=strings,
            destination=strings,
            change_mode=st.sampled_from(["restart", "noop"]),
            perms=st.sampled_from(["0644", "0600"]),
            env=supported("template", "env", st.booleans(), False),
            splay=durations,
        ),
        max_size=2,
    ),
    logs=st.builds(m.LogConfig, max_files=small, max_file_size=small, disabled=st.booleans()),
    kill_timeout=durations,
    kill_signal=st.sampled_from(["SIGINT", "SIGTERM"]),
    shutdown_delay=durations,
    user=supported("task", "user", strings, ""),
    leader=st.booleans(),
    meta=string_maps,
    constraints=st.lists(constraints, max_size=2),
    restart=st.one_of(st.none(), restarts),
    dispatch_payload=st.one_of(st.none(), st.builds(m.DispatchPayload, file=strings)),
    lifecycle=st.one_of(
        st.none(), st.builds(m.Lifecycle, hook=st.sampled_from(list(m.LifecycleHook)), sidecar=st.booleans())
    ),
)
ports = st.builds(
    m.Port,
    label=names,
    static=st.integers(0, 65535),
    to=st.integers(0, 65535),
    host_network=supported("port", "host_network", names, ""),
)
groups = st.builds(
    m.TaskGroup,
    name=names,
    count=small,
    tasks=st.lists(tasks, min_size=1, max_size=1),
    networks=st.lists(
        st.builds(
            m.Network,
            mode=supported("network", "mode", st.sampled_from(["host", "bridge"]), "host"),
            ports=st.lists(ports, max_size=3, unique_by=lambda p: p.label),
            mbits=supported("network", "mbits", small, 0),
        ),
        max_size=1,
    ),
    services=st.lists(services, max_size=2),
    constraints=st.lists(constraints, max_size=1),
    restart=st.one_of(st.none(), restarts),
    reschedule=st.one_of(st.none(), reschedules),
    update=st.one_of(st.none(), updates),
    migrate=migrates,
    meta=string_maps,
    ephemeral_disk=st.builds(
        m.EphemeralDisk,
        size=supported("ephemeral_disk", "size", small, 300),
        sticky=supported("ephemeral_disk", "sticky", st.booleans(), False),
        migrate=supported("ephemeral_disk", "migrate", st.booleans(), False),
    ),
    shutdown_delay=durations,
)
jobs = st.builds(
    m.Job,
    id=names,
    name=st.one_of(st.just(""), names),
    namespace=names,
    region=names,
    type=st.sampled_from(["service", "batch", "system", "sysbatch"]),
    priority=supported("job", "priority", st.integers(1, 100), 50),
    datacenters=st.lists(names, min_size=1, max_size=3),
    all_at_once=supported("job", "all_at_once", st.booleans(), False),
    task_groups=st.lists(groups, max_size=1),
    constraints=st.lists(constraints, max_size=2),
    update=st.one_of(st.none(), updates),
    periodic=supported(
        "job",
        "periodic",
        st.one_of(
            st.none(),
            st.builds(
                m.Periodic,
                cron=strings,
                crons=st.lists(strings, max_size=2),
                prohibit_overlap=st.booleans(),
                time_zone=names,
                enabled=st.booleans(),
            ),
        ),
        None,
    ),
    meta=string_maps,
    parameterized=st.one_of(
        st.none(),
        st.builds(
            m.Parameterized,
            payload=st.sampled_from(list(m.PayloadRule)),
            meta_required=st.lists(strings, max_size=2),
            meta_optional=st.lists(strings, max_size=2),
        ),
    ),
).map(fill_defaults)
