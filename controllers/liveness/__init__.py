"""Node liveness: a ready node whose heartbeat key vanished (its lease expired) is marked
down, and an evaluation is created for every job with allocations on it, so the scheduler
marks them lost and replaces them (`controller`, decisions in `decide`). Garbage
collection of finished evaluations and allocations is its own controller (`collector`,
rules in `gc`)."""
