"""Which variables of the agent's own environment a task or a check may see.

The agent often holds credentials in its environment (cloud keys, `VAULT_TOKEN`,
`ETCDCTL_*`); a task must never inherit them (review finding H6). Nomad filters with a
deny-list (`env.denylist`); an allow-list cannot miss a new secret's name, so every driver
and every script check gets only these, plus what the operator names with
`reconciler agent --task-env`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

INHERITED = ("PATH", "LANG", "LC_ALL", "TZ")


def inherited_env(environ: Mapping[str, str], extra: Iterable[str] = ()) -> dict[str, str]:
    """The part of `environ` a task may inherit: `INHERITED` and the names in `extra`."""
    return {k: environ[k] for k in (*INHERITED, *extra) if k in environ}
