"""A transfer progress bar (rate and ETA) on a terminal; nothing when output is piped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from fabric.commands.common import is_terminal


@contextmanager
def transfer_progress(
    description: str, total: int | None, enabled: bool | None = None
) -> Iterator[Callable[[int, int | None], None]]:
    """Yields `update(done, total)`; draws a rich bar on stderr when it is a terminal."""
    if not (is_terminal() if enabled is None else enabled):
        yield lambda done, total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=total)

        def update(done: int, new_total: int | None) -> None:
            bar.update(task, completed=done, total=new_total if new_total is not None else total)

        yield update
