"""Charts drawn as SVG on the server: the geometry here, the drawing in the templates. No script, no CDN."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WIDTH = 720
LABEL_WIDTH = 230
VALUE_ROOM = 64  # room either side of the bars for their yen figures
ROW = 28


@dataclass(frozen=True)
class Bar:
    label: str
    x: float
    width: float
    y: float
    low: int
    high: int
    low_x: float
    high_x: float


@dataclass(frozen=True)
class Tornado:
    bars: list[Bar]
    base_x: float
    height: int
    width: int = WIDTH
    label_width: int = LABEL_WIDTH
    zero_x: float | None = None


def _scale(values: list[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if low == high:
        low, high = low - 1, high + 1
    return low, high


def tornado(sensitivity: list[dict[str, Any]], *, base: int, label: Any, top: int = 8) -> Tornado:
    """Horizontal bars of profit per customer with each input at −20% and +20%, widest first; the line is today's
    profit, and the zero line (when in range) is where a customer stops paying for themselves."""
    rows = [s for s in sensitivity if s["sensitive"]][:top]
    if not rows:
        return Tornado([], 0, 0)
    low, high = _scale([base, *(s["low"] for s in rows), *(s["high"] for s in rows)])
    span = WIDTH - LABEL_WIDTH - 2 * VALUE_ROOM

    def x(value: float) -> float:
        return LABEL_WIDTH + VALUE_ROOM + (value - low) / (high - low) * span

    bars = []
    for i, s in enumerate(rows):
        left, right = sorted((x(s["low"]), x(s["high"])))
        bars.append(Bar(label=label(s["input"]), x=left, width=max(right - left, 1), y=i * ROW + 6,
                        low=s["low"], high=s["high"], low_x=x(s["low"]), high_x=x(s["high"])))
    zero = x(0) if low <= 0 <= high else None
    return Tornado(bars=bars, base_x=x(base), height=len(rows) * ROW + 12, zero_x=zero)


@dataclass(frozen=True)
class Column:
    x: float
    width: float
    y: float
    height: float
    loss: bool
    label: str


@dataclass(frozen=True)
class Histogram:
    columns: list[Column]
    width: int
    height: int
    markers: list[tuple[str, float]]
    low: int = 0
    high: int = 0


def histogram(bins: list[dict[str, int]], *, p10: int, p50: int, p90: int, width: int = WIDTH,
              height: int = 180) -> Histogram:
    """Columns of how often each profit per customer came up in the simulation; losses in red."""
    if not bins:
        return Histogram([], width, height, [])
    top = max(b["count"] for b in bins) or 1
    low, high = bins[0]["from"], bins[-1]["to"]
    span = (high - low) or 1
    column_width = width / len(bins)

    def x(value: float) -> float:
        return (value - low) / span * width

    columns = [Column(x=i * column_width + 1, width=column_width - 2, y=height - b["count"] / top * (height - 20),
                      height=b["count"] / top * (height - 20), loss=b["to"] <= 0,
                      label=f"¥{b['from']:,}〜¥{b['to']:,}: {b['count']:,}")
               for i, b in enumerate(bins)]
    markers = [(name, x(value)) for name, value in (("P10", p10), ("P50", p50), ("P90", p90)) if low <= value <= high]
    return Histogram(columns, width, height, markers, low=low, high=high)


FUNNEL_LABEL = 170
FUNNEL_BAR = 12
FUNNEL_SERIES = ("entered", "sent", "opened", "clicked", "goal")


@dataclass(frozen=True)
class FunnelBar:
    series: str
    x: float
    y: float
    width: float
    value: int

    @property
    def end(self) -> float:
        return self.x + self.width + 4


@dataclass(frozen=True)
class FunnelGroup:
    label: str
    y: float
    bars: list[FunnelBar]


@dataclass(frozen=True)
class FunnelChart:
    groups: list[FunnelGroup]
    height: int
    width: int = WIDTH
    label_width: int = FUNNEL_LABEL
    series: tuple[str, ...] = FUNNEL_SERIES


def funnel(result: Any, *, label: Any = None) -> FunnelChart:
    """A group of bars per step of a sequence — reached, sent, opened, clicked, reached the goal — all on one
    scale (the most people any step reached), so the drop from step to step shows."""
    rows = list(result.rows)
    if not rows:
        return FunnelChart([], 0)
    top = max([result.entered, *(getattr(r, s) for r in rows for s in FUNNEL_SERIES)]) or 1
    span = WIDTH - FUNNEL_LABEL - VALUE_ROOM
    group_height = len(FUNNEL_SERIES) * (FUNNEL_BAR + 2) + 16
    groups = []
    for i, row in enumerate(rows):
        y = i * group_height + 6
        bars = [FunnelBar(series=s, x=FUNNEL_LABEL, y=y + k * (FUNNEL_BAR + 2), width=getattr(row, s) / top * span,
                          value=getattr(row, s)) for k, s in enumerate(FUNNEL_SERIES)]
        groups.append(FunnelGroup(label=label(i + 1, row) if label else str(i + 1), y=y, bars=bars))
    return FunnelChart(groups=groups, height=len(rows) * group_height + 6)
