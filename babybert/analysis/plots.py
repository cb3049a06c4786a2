"""The plots: the loss (MLM, NSP and total per step, smoothed; held-out accuracy on a second axis), the
architecture, attention heatmaps and the word embeddings projected to 2-D."""

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


EARLIER_COLORS = ["#b0b0b0", "#c5b3e6", "#a9cce3", "#b7dfb9", "#f5cba7"]  # muted: earlier runs behind the live one
CURVES = (("loss", "total loss", "#333333"), ("mlm_loss", "MLM loss", "#1f77b4"), ("nsp_loss", "NSP loss", "#ff7f0e"))
ACCURACIES = (("mlm_accuracy", "held-out MLM acc.", "#2ca02c"), ("nsp_accuracy", "held-out NSP acc.", "#d62728"),
              ("minimal_pair_accuracy", "minimal pairs", "#9467bd"))


class LossPlot:
    """The loss plot as one long-lived figure, cheap to refresh while training runs.

    A whole matplotlib redraw costs ~130 ms, most of it ticks and text; once a second that took
    7-15% of the training speed on 2 cores. So `png()` redraws only the curves onto a saved picture
    of the axes and legend (~15 ms), and redraws everything only when that picture must change:
    when the x range doubles, the loss goes above the y range, or a new curve appears.
    """

    def __init__(self, title: str = "Pretraining loss", dpi: int = 100):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self.fig = Figure(figsize=(8, 4.2), dpi=dpi)
        self.canvas = FigureCanvasAgg(self.fig)
        self.ax = self.fig.add_subplot()
        self.acc = self.ax.twinx()
        self.ax.set(xlabel="step", ylabel="loss")
        self.acc.set(ylim=(0, 1), ylabel="held-out accuracy")
        self.ax.grid(alpha=0.3)
        self.title = self.fig.suptitle(title, x=0.08, y=0.98, ha="left", fontsize=11)
        self.fig.subplots_adjust(left=0.08, right=0.92, top=0.84, bottom=0.12)  # fixed: tight_layout costs 0.1 s
        self.lines: dict[str, object] = {}  # curve name -> Line2D, created when its data first arrives
        # a pause in the run (an evaluation), marked at its step: a refresh when no step moves
        self.pause_line = self.ax.axvline(0, color="#888888", linestyle=":", linewidth=1.2, visible=False, animated=True)
        self.pause_text = self.ax.text(0, 0.97, "", transform=self.ax.get_xaxis_transform(), va="top",
                                       fontsize=8, color="#555555", visible=False, animated=True)
        self._layout, self._background = None, None
        self.earlier: list = []  # earlier runs' curves: muted, static (part of the saved background)

    def _line(self, name: str, axes, **style):
        if name not in self.lines:
            (self.lines[name],) = axes.plot([], [], **style)
        return self.lines[name]

    def set_earlier(self, runs: list[tuple[str, list[dict]]], max_points: int = 300) -> None:
        """Earlier runs, (label, history) each, drawn as their smoothed total loss in muted colours
        behind this run's curves, with a legend of their own: to see what a change did."""
        for line in self.earlier:
            line.remove()
        self.earlier = []
        for (label, history), color in zip(runs, EARLIER_COLORS * len(runs)):
            if not history:
                continue
            shown = thin(history, max_points)
            (line,) = self.ax.plot([h["step"] for h in shown], smooth([h["loss"] for h in shown]), color=color,
                                   linewidth=1.4, alpha=0.9, label="_" + label, zorder=1)
            line.babybert_label = label
            self.earlier.append(line)

    def update(self, history: list[dict], eval_history: list[dict] = (), max_points: int = 600,
               live: bool = False, expected_steps: float | None = None, pause: str = "") -> None:
        """Curves from `history` rows ({step, loss, mlm_loss, nsp_loss}) and eval rows, smoothed
        over every row, then thinned to `max_points`. `live` leaves room on the x axis to grow: to
        `expected_steps` (an estimate of the run's length) when known, else by doubling. `pause`
        says why the run is not moving (such as an evaluation), marked at the last step."""
        shown = thin(list(range(len(history))), max_points)
        steps = [history[i]["step"] for i in shown]
        top = max((max(line.get_ydata()) for line in self.earlier), default=0.0)
        for key, label, color in CURVES:
            values = [h.get(key) for h in history]
            if history and all(v is not None for v in values):
                smoothed = smooth(values)
                self._line(key + " raw", self.ax, color=color, alpha=0.15, linewidth=1).set_data(steps, [values[i] for i in shown])
                self._line(key, self.ax, color=color, linewidth=2, label=label).set_data(steps, [smoothed[i] for i in shown])
                top = max(top, max(values[i] for i in shown))
        for key, label, color in ACCURACIES:
            points = [(e["step"], e[key]) for e in eval_history if e.get(key) is not None]
            if points:
                self._line(key, self.acc, color=color, label=label, marker="o", linestyle="--", markersize=4).set_data(*zip(*points))
        last = steps[-1] if steps else 1
        xmax = self.ax.get_xlim()[1] if live and self._layout else 0
        if live and xmax < last and expected_steps and expected_steps > last:
            xmax = float(_nice_ceiling(1.05 * expected_steps))
        while live and xmax < last:
            xmax = max(100, 2 * xmax)
        longest = max((line.get_xdata()[-1] for line in self.earlier), default=1)
        self.ax.set_xlim(0, xmax if live else max(last, longest, 1))
        self.pause_line.set_xdata([last, last])
        right = last > 0.6 * self.ax.get_xlim()[1]  # the note goes where there is room
        self.pause_text.set(x=last, text=f"{pause} " if right else f" {pause}", ha="right" if right else "left")
        for artist in (self.pause_line, self.pause_text):
            artist.set_visible(bool(pause))
        ymax = self.ax.get_ylim()[1] if live and self._layout else 0
        if top * 1.05 > ymax or not live:
            self.ax.set_ylim(0, max(top * 1.05, 0.1))

    def _draw_layout(self) -> None:
        """Axes, ticks and legend, without the curves."""
        handles = [line for line in self.lines.values() if not line.get_label().startswith("_")]
        for legend in self.fig.legends:
            legend.remove()
        if handles:
            self.fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.07, 0.93), ncol=len(handles), fontsize=8,
                            frameon=False, columnspacing=1.2, handlelength=1.8)
        if self.ax.get_legend():
            self.ax.get_legend().remove()
        if self.earlier:
            earlier = self.ax.legend(handles=self.earlier, labels=[line.babybert_label for line in self.earlier],
                                     loc="upper right", fontsize=7, title="earlier runs (→ this run)", title_fontsize=7,
                                     framealpha=0.85)
            earlier.set_zorder(5)
        for line in self.lines.values():
            line.set_animated(True)  # left out of canvas.draw()
        self.canvas.draw()
        self._background = self.canvas.copy_from_bbox(self.fig.bbox)

    def png(self, path: str | Path) -> None:
        """Save the current state as a PNG, redrawing as little as possible."""
        from PIL import Image

        layout = (self.ax.get_xlim(), self.ax.get_ylim(), tuple(self.lines), self.title.get_text(),
                  tuple(map(id, self.earlier)))
        if layout != self._layout:
            self._draw_layout()
            self._layout = layout
        else:
            self.canvas.restore_region(self._background)
        for artist in (*self.lines.values(), self.pause_line, self.pause_text):
            if artist.get_visible():
                artist.axes.draw_artist(artist)
        width, height = self.canvas.get_width_height()
        Image.frombuffer("RGBA", (width, height), self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1).save(path, compress_level=1)

    def figure(self) -> Figure:
        """The whole figure, drawn normally (for savefig and gr.Plot)."""
        self._draw_layout()
        for line in self.lines.values():
            line.set_animated(False)
        self._layout = None
        return self.fig


def _nice_ceiling(x: float) -> int:
    """The smallest 1, 2 or 5 times a power of ten that is at least x.

    >>> [_nice_ceiling(x) for x in (7, 130, 1999, 2001)]
    [10, 200, 2000, 5000]
    """
    power = 10 ** max(0, len(str(int(x))) - 1)
    return next(m * power for m in (1, 2, 5, 10) if m * power >= x)


def loss_figure(history: list[dict], eval_history: list[dict] | None = None, title: str = "Pretraining loss",
                max_points: int = 600, dpi: int = 100, earlier: list[tuple[str, list[dict]]] = ()) -> Figure:
    plot = LossPlot(title, dpi)
    plot.set_earlier(list(earlier))
    plot.update(history, eval_history or [], max_points)
    return plot.figure()


def save_loss_plot(history: list[dict], eval_history: list[dict], path: str | Path) -> None:
    loss_figure(history, eval_history).savefig(path)


def architecture_figure(config, counts: dict[str, int]) -> Figure:
    """BERT drawn from its real config: embeddings -> N encoder layers -> MLM and NSP heads."""
    fig = Figure(figsize=(7.5, 6.2), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    ax.axis("off")
    H, V, I = config.hidden_size, config.vocab_size, config.intermediate_size
    per_layer = counts.get("layer 0", 0)

    def box(x, y, w, h, title, lines, color):
        ax.add_patch(_rounded(x, y, w, h, color))
        ax.text(x + w / 2, y + h - 0.28, title, ha="center", va="top", fontsize=10, weight="bold")
        ax.text(x + w / 2, y + h - 0.68, "\n".join(lines), ha="center", va="top", fontsize=8, linespacing=1.4)

    def arrow(x0, y0, x1, y1):
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops={"arrowstyle": "->", "color": "#555", "lw": 1.4})

    ax.text(5, 9.75, "[CLS] sentence A [SEP] sentence B [SEP]", ha="center", fontsize=9, family="monospace")
    arrow(5, 9.55, 5, 9.25)
    box(2, 7.55, 6, 1.65, "Embeddings", [f"token {V:,}x{H} + position {config.max_position_embeddings}x{H} + segment 2x{H}",
                                         f"LayerNorm, dropout  ·  {counts.get('embeddings', 0):,} parameters"], "#dbeafe")
    arrow(5, 7.5, 5, 7.15)
    box(1.5, 3.9, 7, 3.2, f"Encoder layer  x {config.num_hidden_layers}",
        [f"self-attention: {config.num_attention_heads} heads x {config.head_size} dims, every token looks at every token",
         "add & LayerNorm",
         f"feed-forward: {H} -> {I} (GELU) -> {H}",
         "add & LayerNorm",
         f"{per_layer:,} parameters per layer"], "#e0e7ff")
    arrow(3.2, 3.85, 2.6, 3.3)
    arrow(6.8, 3.85, 7.4, 3.3)
    box(0.3, 0.6, 4.6, 2.65, "MLM head (every [MASK])",
        [f"dense {H}x{H}, GELU, LayerNorm", f"decoder {H} -> {V:,} words", "(tied to the token embeddings)",
         f"{counts.get('mlm head (decoder tied to embeddings)', 0):,} own parameters"], "#dcfce7")
    box(5.1, 0.6, 4.6, 2.65, "NSP head (on [CLS])",
        [f"pooler: dense {H}x{H}, tanh", "classifier -> IsNext / NotNext",
         f"{counts.get('pooler', 0) + counts.get('nsp head', 0):,} parameters"], "#fee2e2")
    ax.text(5, 0.2, f"{sum(counts.values()):,} parameters in all", ha="center", fontsize=9, style="italic")
    return fig


def _rounded(x, y, w, h, color):
    from matplotlib.patches import FancyBboxPatch
    return FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.15", fc=color, ec="#64748b", lw=1)


def attention_figure(tokens: list[str], weights, layer: int, head: int) -> Figure:
    """Heatmap of one head's attention: row = the token looking, column = the token looked at."""
    n = len(tokens)
    size = min(9.0, 2.5 + 0.32 * n)
    fig = Figure(figsize=(size, size * 0.92), dpi=100)
    ax = fig.add_subplot()
    image = ax.imshow(weights, cmap="Blues", vmin=0.0, vmax=float(weights.max()) or 1.0)
    ax.set_xticks(range(n), tokens, rotation=90, fontsize=8)
    ax.set_yticks(range(n), tokens, fontsize=8)
    ax.set_xlabel("looked at")
    ax.set_ylabel("looking")
    ax.set_title(f"layer {layer + 1}, head {head + 1}")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.subplots_adjust(left=0.2, bottom=0.2, right=0.88, top=0.93)  # room for the colour bar's labels
    return fig


def embedding_figure(words: list[str], points, explained: list[float], query: str | None = None,
                     marked: dict | None = None) -> Figure:
    """Words as labelled points on the first two principal components: the rest muted, `query` in
    red and the other `marked` words (its neighbours, drawn wherever they fall) in blue.
    `marked` maps a word to its (x, y); `explained` is each axis's share of the variance."""
    marked = marked or {}
    fig = Figure(figsize=(8, 6.5), dpi=100)
    ax = fig.add_subplot()
    muted = [(w, p) for w, p in zip(words, points.tolist()) if w not in marked]
    if muted:
        xs, ys = zip(*(p for _, p in muted))
        ax.scatter(xs, ys, s=12, color="#b0b7c3", zorder=1)
        for w, (x, y) in muted:
            ax.annotate(w, (x, y), xytext=(3, 2), textcoords="offset points", fontsize=7, color="#7a8494")
    for w, point in marked.items():
        x, y = (float(v) for v in point)
        color = "#d62728" if w == query else "#1f77b4"
        ax.scatter([x], [y], s=60 if w == query else 30, color=color, zorder=3, edgecolors="white", linewidths=0.8)
        ax.annotate(w, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=10 if w == query else 9,
                    color=color, weight="bold", zorder=4)
    ax.set_xlabel(f"PC 1 ({explained[0]:.0%} of the variance)")
    ax.set_ylabel(f"PC 2 ({explained[1]:.0%} of the variance)" if len(explained) > 1 else "PC 2")
    title = f"Word embeddings of the {len(words)} most frequent words (PCA)"
    if query:
        title += f"\n'{query}' (red) and its {len(marked) - 1} nearest neighbours by cosine similarity (blue)"
    ax.set_title(title, fontsize=10, loc="left")
    ax.grid(alpha=0.2)
    fig.tight_layout()
    return fig


def pll_figure(a, b, labels: tuple[str, str] = ("A", "B")) -> Figure:
    """Each piece's log-probability given the rest of its sentence (two SentenceScores, one row
    each): the piece the model finds least likely in each sentence in red, so the word it objects
    to stands out; the sum of a row is its sentence's PLL."""
    fig = Figure(figsize=(9, 4.2), dpi=100)
    lowest = min(min(s.logprobs) for s in (a, b))
    for row, (s, label) in enumerate(zip((a, b), labels)):
        ax = fig.add_subplot(2, 1, row + 1)
        colors = ["#d62728" if i == s.least_likely else "#1f77b4" for i in range(len(s.logprobs))]
        ax.bar(range(len(s.tokens)), s.logprobs, color=colors)
        ax.set_xticks(range(len(s.tokens)), s.tokens, fontsize=9, rotation=30 if len(s.tokens) > 12 else 0)
        ax.set_ylim(min(lowest * 1.1, -1.0), 0)
        ax.set_ylabel("log P(piece | rest)", fontsize=8)
        ax.set_title(f"{label}: PLL {s.pll:.2f}", fontsize=10, loc="left")
        ax.grid(axis="y", alpha=0.2)
    fig.tight_layout()
    return fig
