"""One `fabric serve` per data dir: an exclusive lock on `<data-dir>/server.lock`, which names its holder.

The lock is `flock(2)`, released by the kernel when the process ends however it ends, so a crashed server
never leaves a stale lock behind; the pid and address written into the file only serve the message.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import IO

LOCK_FILE = "server.lock"


class DataDirInUse(Exception):
    """Another process holds the data dir."""


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_FILE
        self._file: IO[str] | None = None

    def acquire(self, url: str) -> DataDirLock:
        """Take the lock and record who holds it; DataDirInUse (with a message to show) if another process has it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(handle)
            handle.close()
            raise DataDirInUse(self._in_use_message(holder)) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "url": url}) + "\n")
        handle.flush()
        self._file = handle
        return self

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the flock
            self._file = None

    def _in_use_message(self, holder: dict[str, object]) -> str:
        data_dir = self.path.parent.resolve()
        pid = holder.get("pid")
        if not pid:
            return f"the data dir {data_dir} is in use by another fabric serve; stop it, or pass another --data-dir"
        where = f" serving {holder['url']}" if holder.get("url") else ""
        return (
            f"the data dir {data_dir} is in use by fabric serve (pid {pid}{where}); "
            f"stop it (kill {pid}) or pass another --data-dir"
        )

    def __enter__(self) -> DataDirLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _holder(handle: IO[str]) -> dict[str, object]:
    try:
        handle.seek(0)
        value = json.loads(handle.read() or "{}")
        return value if isinstance(value, dict) else {}
    except (OSError, ValueError):
        return {}
