"""Routing report figure: router entries per chip before/after compression, and chip-link loads."""

from __future__ import annotations

from pathlib import Path

from aedc.machine import LINKS
from aedc.routing.model import RoutingTables

__all__ = ["plot_routing"]


def plot_routing(tables: RoutingTables, path: str | Path) -> Path:
    """Write a PNG with two panels and return its path.

    Left: entries per chip (chips in machine order) before and after compression, with the router's
    capacity as a line. Right (machines of more than one chip): the chip grid with every used link
    drawn as an arrow whose width and colour grow with its expected packets per tick
    (``Routes.link_loads``); a one-chip machine has no chip links, so the figure has the left panel only.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = tables.machine
    one_chip = len(m.chips) == 1
    fig, axes = plt.subplots(1, 1 if one_chip else 2, figsize=(6.5 if one_chip else 12, 4.8), squeeze=False)
    ax1 = axes[0][0]
    labels = [f"{t.chip[0]},{t.chip[1]}" for t in tables.tables]
    xs = range(len(labels))
    ax1.bar([x - 0.2 for x in xs], [t.uncompressed for t in tables.tables], 0.4, label="before")
    ax1.bar([x + 0.2 for x in xs], [len(t.entries) for t in tables.tables], 0.4,
            label=f"after ({tables.compressor})")
    ax1.axhline(m.router_entries, color="red", lw=1, ls="--", label=f"capacity {m.router_entries:,}")
    ax1.set_yscale("log")
    ax1.set_xticks(list(xs), labels, rotation=90, fontsize=7)
    ax1.set_xlabel("chip")
    ax1.set_ylabel("router entries")
    ax1.set_title(f"router entries: {tables.uncompressed:,} → {tables.entries:,}"
                  + (" (one chip: no chip-to-chip links)" if one_chip else ""), fontsize=10)
    ax1.legend(fontsize=8)
    if one_chip:
        return _save(fig, path)
    ax2 = axes[0][1]

    loads = tables.routes.link_loads()
    peak = max(loads.values(), default=0.0) or 1.0
    step = {name: (dx, dy) for name, dx, dy in LINKS}
    cmap = plt.get_cmap("viridis")
    for (x, y), link in loads:
        dx, dy = step[link]
        load = loads[((x, y), link)]
        ax2.annotate("", xy=(x + 0.8 * dx, y + 0.8 * dy), xytext=(x, y),
                     arrowprops={"arrowstyle": "->", "lw": 0.5 + 3 * load / peak,
                                 "color": cmap(load / peak)})
    for x, y in m.chips:
        ax2.plot(x, y, "o", color="black" if tables.table((x, y)) else "lightgrey", ms=6)
    ax2.set_xlim(-0.8, m.chips_x - 0.2)
    ax2.set_ylim(-0.8, m.chips_y - 0.2)
    ax2.set_aspect("equal")
    ax2.set_xlabel("chip x")
    ax2.set_ylabel("chip y")
    ax2.set_title(f"chip-link loads, peak {peak:.1f} packets/tick" if loads else "no chip links used",
                  fontsize=10)
    return _save(fig, path)


def _save(fig: object, path: str | Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()  # type: ignore[attr-defined]
    out = Path(path)
    fig.savefig(out, dpi=110)  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    return out
