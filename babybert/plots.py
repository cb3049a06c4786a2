"""The loss plot: MLM, NSP and total loss per step (smoothed), held-out accuracy on a second axis."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure  # the object API: no pyplot global state, safe in a server


def smooth(values: list[float], weight: float = 0.9) -> list[float]:
    """Exponential moving average with bias correction, as TensorBoard draws it.

    >>> smooth([1.0, 1.0, 1.0])
    [1.0, 1.0, 1.0]
    """
    out, avg = [], 0.0
    for i, v in enumerate(values, start=1):
        avg = weight * avg + (1 - weight) * v
        out.append(avg / (1 - weight ** i))
    return out


def thin(rows: list, limit: int) -> list:
    """At most about `limit` evenly spaced rows, the last one always kept.

    >>> thin(list(range(10)), 4)
    [0, 3, 6, 9]
    """
    if len(rows) <= limit:
        return rows
    stride = -(-len(rows) // limit)
    return rows[::stride] + ([rows[-1]] if (len(rows) - 1) % stride else [])


def loss_figure(history: list[dict], eval_history: list[dict] | None = None, title: str = "Pretraining loss",
                max_points: int = 600, dpi: int = 100) -> Figure:
    """Build the figure from `history` rows ({step, loss, mlm_loss, nsp_loss}) and eval rows.
    Curves are smoothed over every row, then thinned to `max_points` so redrawing stays cheap."""
    fig = Figure(figsize=(8, 4.2), dpi=dpi)
    ax = fig.add_subplot()
    shown = thin(list(range(len(history))), max_points)
    steps = [history[i]["step"] for i in shown]
    for key, label, color in (("loss", "total", "#333333"), ("mlm_loss", "MLM", "#1f77b4"), ("nsp_loss", "NSP", "#ff7f0e")):
        values = [h.get(key) for h in history]
        if history and all(v is not None for v in values):
            smoothed = smooth(values)
            ax.plot(steps, [values[i] for i in shown], color=color, alpha=0.15, linewidth=1)
            ax.plot(steps, [smoothed[i] for i in shown], color=color, linewidth=2, label=f"{label} loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    evals = [e for e in (eval_history or []) if e.get("mlm_accuracy") is not None or e.get("nsp_accuracy") is not None]
    if evals:
        acc = ax.twinx()
        for key, label, color in (("mlm_accuracy", "held-out MLM acc.", "#2ca02c"), ("nsp_accuracy", "held-out NSP acc.", "#d62728")):
            points = [(e["step"], e[key]) for e in evals if e.get(key) is not None]
            if points:
                acc.plot(*zip(*points), "o--", color=color, label=label, markersize=4)
        acc.set_ylim(0, 1)
        acc.set_ylabel("held-out accuracy")
        lines = ax.get_legend_handles_labels(), acc.get_legend_handles_labels()
        ax.legend(lines[0][0] + lines[1][0], lines[0][1] + lines[1][1], loc="center right", fontsize=8)
    elif history:
        ax.legend(loc="upper right", fontsize=8)
    fig.subplots_adjust(left=0.08, right=0.92 if evals else 0.97, top=0.92, bottom=0.12)  # fixed: tight_layout costs 0.1 s
    return fig


def save_loss_plot(history: list[dict], eval_history: list[dict], path: str | Path) -> None:
    loss_figure(history, eval_history).savefig(path)
