"""Human-readable views of a placement: per-PE budget rows (for the CLI) and a PNG map of the chip(s).

Plain data here; the CLI renders it. matplotlib is imported only by :func:`draw_placement`.
"""

from __future__ import annotations

from pathlib import Path

from aedc.partition.model import MemoryBreakdown, PEUsage, Placement


def quality(p: Placement) -> str:
    """The placement's objective against the greedy baseline and its lower bound (the solver's or the
    combinatorial one of :mod:`aedc.partition.bound`) — worded so that a result without a bound or
    an empty objective reads right."""
    base = p.baseline_objective
    if base > 0:
        vs = f"greedy {base:,}, {100 * (1 - p.objective / base):.1f}% less"
    else:
        vs = f"greedy {base:,}: no inter-PE traffic to reduce"
    if p.status == "OPTIMAL":
        proof = "proved optimal"
    elif p.bound > 0:
        proof = f"lower bound {p.bound:,}, gap {100 * p.gap:.1f}%"
    else:
        proof = "no lower bound (heuristic search)" if p.objective else "nothing to improve"
    return f"objective {p.objective:,} ({vs}; {proof})"


def budget_lines(usage: PEUsage, budget: int, itcm: int) -> list[tuple[str, int, str]]:
    """``(term, bytes, note)`` rows of one PE's breakdown, then the total and free bytes."""
    rows = [(term, value, "") for term, value in usage.memory.items() if value]
    total = usage.memory.total
    rows.append(("total (DTCM dynamic regions)", total, f"{100 * total / budget:.1f}% of {budget:,} B"))
    rows.append(("free", budget - total, ""))
    rows.append(("code (ITCM)", usage.memory.code, f"{100 * usage.memory.code / itcm:.1f}% of {itcm:,} B"))
    return rows


def placement_summary(p: Placement) -> dict[str, object]:
    """Headline numbers of a placement."""
    used = len(p.pes)
    fill = [u.memory.total / p.machine.dynamic_region_bytes for u in p.pes]
    return {
        "solver": p.solver, "status": p.status, "slices": len(p.slices),
        "synapse_slices": sum(1 for s in p.slices if s.role == "synapse"),
        "pes_used": used, "pes_available": p.machine.total_pes,
        "chips_used": len({u.pe.chip for u in p.pes}), "objective": p.objective, "bound": p.bound,
        "gap": round(p.gap, 6), "baseline_objective": p.baseline_objective,
        "mean_fill": round(sum(fill) / max(used, 1), 4), "max_fill": round(max(fill, default=0.0), 4),
    }


def total_memory(p: Placement) -> MemoryBreakdown:
    out = MemoryBreakdown()
    for u in p.pes:
        out = out + u.memory
    return out


def draw_placement(p: Placement, path: str | Path) -> Path:
    """Draw each used chip's QPE grid: PEs coloured by population, bar height = fill level."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    m = p.machine
    chips = sorted({u.pe.chip for u in p.pes}, key=lambda c: (c[1], c[0])) or [(0, 0)]
    pops = list(dict.fromkeys(s.population for s in p.slices))
    cmap = plt.get_cmap("tab20")
    colour = {name: cmap(i % 20) for i, name in enumerate(pops)}
    by_pe = {u.pe: u for u in p.pes}
    ncols = min(len(chips), 4)
    nrows = -(-len(chips) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(4.2 * ncols, 6.0), 3.8 * nrows + 1.2),
                             squeeze=False)
    sub = 2 if m.pes_per_qpe > 1 else 1
    for ax, chip in zip(axes.ravel(), chips, strict=False):
        ax.set_title(f"chip {chip}", fontsize=9)
        for qx, qy in m.qpes:
            ax.add_patch(Rectangle((qx - 0.5, qy - 0.5), 1, 1, fill=False, lw=0.8, ec="0.5"))
            for pe in range(m.pes_per_qpe):
                x0 = qx - 0.45 + (pe % sub) * 0.45
                y0 = qy - 0.45 + (pe // sub) * 0.45
                reserved = (qx, qy, pe) in m.reserved_pes  # withheld from applications: dark grey
                cell = Rectangle((x0, y0), 0.43, 0.43, fc="0.55" if reserved else "0.93", ec="0.8", lw=0.4)
                ax.add_patch(cell)
                from aedc.machine import PEAddress

                u = by_pe.get(PEAddress(chip=chip, qpe=(qx, qy), pe=pe))
                if u is None:
                    continue
                fill = min(u.memory.total / m.dynamic_region_bytes, 1.0)
                main = p.slices[u.slices[0]].population
                ax.add_patch(Rectangle((x0, y0), 0.43, 0.43 * fill, fc=colour[main], ec="none"))
                if len(u.slices) > 1:
                    ax.text(x0 + 0.215, y0 + 0.215, str(len(u.slices)), ha="center", va="center",
                            fontsize=5)
        for qx, qy in m.qpe_holes:
            ax.add_patch(Rectangle((qx - 0.5, qy - 0.5), 1, 1, fc="0.75", ec="none", hatch="//"))
        ax.set_xlim(0.4, m.qpe_cols + 0.6)
        ax.set_ylim(0.4, m.qpe_rows + 0.6)
        ax.set_aspect("equal")
        ax.set_xticks(range(1, m.qpe_cols + 1))
        ax.set_yticks(range(1, m.qpe_rows + 1))
        ax.tick_params(labelsize=6)
    for ax in axes.ravel()[len(chips):]:
        ax.axis("off")
    handles = [Patch(color=colour[n], label=n) for n in pops[:20]]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 8), fontsize=7, frameon=False)
    s = placement_summary(p)
    fig.suptitle(f"{s['solver']}: {s['pes_used']} PEs, objective {p.objective:,} "
                 f"(greedy {p.baseline_objective:,})\nPEs coloured by population, bar height = DTCM fill, "
                 "number = slices sharing the PE, dark = reserved PE", fontsize=8)
    fig.tight_layout(rect=(0, 0.06, 1, 0.92))
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
