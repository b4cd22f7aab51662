"""Rows for people (an aligned table with a header) and for scripts (CSV with a header, or tab-separated)."""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence

import click


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell; the last column is never padded."""
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    lines = []
    for row in [list(headers), *rows]:
        cells = [cell.ljust(widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    text = render_table(headers, rows)
    click.secho(text.split("\n", 1)[0], bold=True)  # the header
    if rows:
        click.echo(text.split("\n", 1)[1])


def echo_csv(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    sys.stdout.flush()


def short_time(value: str | None) -> str:
    """`2026-11-23T19:22:03.123456+00:00` as `2026-11-23 19:22`."""
    if not value:
        return "-"
    return value.replace("T", " ")[:16]


def stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False
