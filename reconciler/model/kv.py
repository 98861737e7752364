"""What `kv/<key>` holds: one entry of the Consul-compatible KV store.

The value is kept base64-encoded inside JSON (every value in etcd is readable JSON with a
schema field), exactly as Consul's API returns it; `flags` is Consul's opaque 64-bit number.
Create and modify indexes are the etcd revisions of the key, not stored here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class KVEntry:
    value: str = ""  # base64
    flags: int = 0
    schema: int = 1
