from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

TUS_VERSION = "1.0.0"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"


@dataclass(frozen=True, slots=True)
class TusConfig:
    base_path: str = "/v1/uploads"
    max_size: int = 1 << 40  # Tus-Max-Size, advertised and enforced
    expiry: timedelta = timedelta(hours=24)  # an unfinished upload untouched this long is removed
    sweep_interval: float = 60.0
    checkpoint_bytes: int = 16 << 20  # a long PATCH records a durable offset at least this often
    upload_buffer_budget: int = 64 << 20  # upload bytes held in memory by all requests together (see budget.py)
    takeover_timeout: float = 10.0  # how long a new request waits for an old one to let go
    # md5 of every upload beside its sha256. Off by default: md5 costs twice sha256's CPU and would halve the
    # throughput of a large upload. An upload whose metadata has the key `md5` gets one either way.
    md5: bool = False
