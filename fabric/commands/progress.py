"""A transfer progress bar on a terminal (binary units, rate, ETA); nothing when stderr is not a terminal.

When every byte is sent the server still has work to do (sync, move into content-addressed storage, register
the artifact); the bar then says "finishing" rather than sitting silently at 100%.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

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
