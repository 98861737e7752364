"""A new allocation for one placement: its fields from the job, the placement and the node
chosen for it (`new_alloc`), and its id (`fast_ids`), made once per allocation on the
placer's hot path.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from controllers.scheduler.buckets import AllocPlace
from controllers.scheduler.group_context import GroupCtx
from controllers.scheduler.rank import placed_score
from controllers.scheduler.state import NodeState
from reconciler.model.ids import AllocId, EvalId
from reconciler.model.job import Job
from reconciler.model.objects import AllocatedPort, Allocation


def new_alloc(
    job: Job,
    version: int,
    ctx: GroupCtx,
    p: AllocPlace,
    chosen: tuple[NodeState, list[AllocatedPort]],
    *,
    alloc_id: AllocId,
    eval_id: EvalId,
    now: float,
) -> Allocation:
    st, ports = chosen
    prev = p.previous
    attempts = [] if prev is None else list(prev.reschedule_attempts)
    if prev is not None and p.reason == "reschedule":
        attempts.append(now)
    return Allocation(
        id=alloc_id,
        namespace=job.namespace,
        job_id=job.id,
        job_version=version,
        task_group=p.task_group,
        name=p.name,
        index=p.index,
        node_id=st.node.id,
        node_name=st.node.name,
        eval_id=eval_id,
        ports=ports,
        cpu=ctx.cpu,
        memory=ctx.mem,
        disk=ctx.disk,
        canary=p.canary,
        previous_allocation=prev.id if prev else AllocId(""),
        reschedule_attempts=attempts,
        score=placed_score(job, ctx, p, st),
        create_time=now,
        modify_time=now,
    )


def fast_ids(rng: random.Random) -> Iterator[AllocId]:
    """UUID4 strings, far cheaper than uuid.uuid4() (the hot path makes one per allocation):
    random bits from a generator seeded from the OS, with the version and variant bits set."""
    while True:
        v = rng.getrandbits(128)
        v = (v & ~(0xF << 76)) | (0x4 << 76)  # version 4
        v = (v & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
        h = f"{v:032x}"
        yield AllocId(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
