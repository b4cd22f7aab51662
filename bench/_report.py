"""Figures of the benchmark: samples, medians and the printed table."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

MiB = 1 << 20


@dataclass(slots=True)
class Series:
    server: str
    mode: str
    mib_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.mib_s)


def _ratio(series: Series, reference: Series | None) -> str:
    if reference is None or not reference.mib_s or series is reference:
        return "—"
    return f"{series.median / reference.median:.2f}x"


def table(rows: list[Series], references: dict[str, dict[str, Series]]) -> str:
    """A Markdown table; `references[name][mode]` are the series ratios are taken against (same mode)."""
    header = ["server", "mode", "MiB/s (median)", "min – max", "vs @tus/server", "vs tusd", "server CPU s (median)"]
    lines = [header]
    for series in rows:
        if not series.mib_s:
            continue
        lines.append(
            [
                series.server,
                series.mode,
                f"{series.median:,.0f}",
                f"{min(series.mib_s):,.0f} – {max(series.mib_s):,.0f}",
                _ratio(series, references.get("@tus/server", {}).get(series.mode)),
                _ratio(series, references.get("tusd", {}).get(series.mode)),
                f"{statistics.median(series.cpu_s):.1f}" if series.cpu_s else "—",
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = ["| " + " | ".join(cell.ljust(width) for cell, width in zip(line, widths)) + " |" for line in lines]
    out.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(out)


def parse_size(text: str) -> int:
    """`1073741824`, `1GiB`, `64MiB`, `512K` (binary units)."""
    units = {"": 1, "k": 1 << 10, "kib": 1 << 10, "m": MiB, "mib": MiB, "g": 1 << 30, "gib": 1 << 30}
    cleaned = text.strip().lower().replace(" ", "")
    number = cleaned.rstrip("kmgib")
    unit = cleaned[len(number) :]
    if unit not in units or not number:
        raise ValueError(f"not a size: {text!r} (try 1GiB, 64MiB, or bytes)")
    return int(float(number) * units[unit])
