"""A transfer progress bar on a terminal (binary units, rate, ETA); nothing when stderr is not a terminal.

When every byte is sent the server still has work to do (sync, move into content-addressed storage, register
the artifact); the bar then says "finishing" rather than sitting silently at 100%.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from fabric.commands.common import human_size, is_terminal

FINISHING = "finishing (the server is storing it)"


def _columns() -> list[Any]:
    from rich.progress import BarColumn, DownloadColumn, ProgressColumn, TextColumn, TimeRemainingColumn
    from rich.text import Text

    class BinarySpeedColumn(ProgressColumn):
        """Transfer speed in KiB/s, MiB/s, GiB/s (rich's own column is decimal)."""

        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text("?" if speed is None else f"{human_size(int(speed))}/s", style="progress.data.speed")

    return [
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        BinarySpeedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[note]}"),
    ]


@contextmanager
def transfer_progress(
    description: str, total: int | None, enabled: bool | None = None, *, finishing: str = FINISHING
) -> Iterator[Callable[[int, int | None], None]]:
    """Yields `update(done, total)`; draws a rich bar on stderr when it is a terminal."""
    if not (is_terminal() if enabled is None else enabled):
        yield lambda done, total: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(*_columns(), console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(description, total=total, note="")

        def update(done: int, new_total: int | None) -> None:
            size = new_total if new_total is not None else total
            note = finishing if size is not None and done >= size else ""
            changed = note != bar.tasks[0].fields.get("note")
            bar.update(task, completed=done, total=size, note=note, refresh=changed)  # "finishing" shows at once

        yield update
        bar.update(task, note="done")


class FilesProgress:
    """One bar for several uploads under way at once (bytes the server has of all of them), and lines printed
    above it as each file is done. Its methods are called from the uploading threads."""

    def __init__(self, bar: Any, task: Any) -> None:
        self._bar = bar
        self._task = task
        self._lock = threading.Lock()
        self._done: dict[int, int] = {}

    def tracker(self, key: int) -> Callable[[int, int | None], None]:
        """The `progress` callback of upload `key`: moves the shared bar by what that upload reports."""

        def update(done: int, total: int | None) -> None:
            with self._lock:
                delta, self._done[key] = done - self._done.get(key, 0), done
            if self._bar is not None and delta:
                self._bar.advance(self._task, delta)

        return update

    @property
    def drawn(self) -> bool:
        """Whether a bar is on the terminal."""
        return self._bar is not None

    def close(self) -> None:
        """Take the bar off the terminal now (before an exit that skips the `with`'s end)."""
        if self._bar is not None:
            self._bar.stop()

    def say(self, line: str) -> None:
        """A line on stderr, above the bar when there is one."""
        if self._bar is not None:
            self._bar.console.print(line, markup=False, highlight=False)
        else:
            click.echo(line, err=True)


@contextmanager
def files_progress(count: int, total: int, enabled: bool | None = None) -> Iterator[FilesProgress]:
    """A `FilesProgress` for `count` files of `total` bytes; its bar is drawn only on a terminal."""
    if not (is_terminal() if enabled is None else enabled):
        yield FilesProgress(None, None)
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(*_columns(), console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(f"{count} files", total=total, note="")
        yield FilesProgress(bar, task)
