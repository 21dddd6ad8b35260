"""Figures for the notebooks, each a ``matplotlib.figure.Figure`` built without pyplot (no global
state: a notebook shows it as the cell's value, a stage saves it). Labels are in English so that no
CJK font is needed.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

#: One colour per data source, the same in every figure.
SOURCE_COLORS = {"reasoning": "#4c72b0", "chat": "#dd8452"}


def _color(name: str, i: int) -> str:
    return SOURCE_COLORS.get(name, f"C{i + 2}")


def plot_length_histogram(lengths: Mapping[str, "np.typing.ArrayLike"], *, max_seq_length: int | None = None,
                          bins: int = 40, title: str = "Token length per row"):
    """Histograms of token lengths (source name -> token counts) on a log axis, with
    ``max_seq_length`` marked. Introduced in 03_dataset_cleaning."""
    from matplotlib.figure import Figure

    arrays = {name: np.asarray(values, dtype=float) for name, values in lengths.items()}
    every = np.concatenate([a for a in arrays.values() if a.size] or [np.ones(1)])
    low, high = max(1.0, every.min()), max(2.0, every.max(), float(max_seq_length or 0) * 1.05)
    fig = Figure(figsize=(8, 3.6))
    ax = fig.add_subplot()
    for i, (name, values) in enumerate(arrays.items()):
        median = f", median {int(np.median(values))}" if values.size else ""
        ax.hist(values, bins=np.geomspace(low, high, bins + 1), alpha=0.6, color=_color(name, i),
                label=f"{name} ({values.size} rows{median})")
    if max_seq_length:
        ax.axvline(max_seq_length, color="black", linestyle="--", linewidth=1)
        ax.annotate(f"max_seq_length = {max_seq_length}", (max_seq_length, 1),
                    xycoords=("data", "axes fraction"), xytext=(-4, -4), textcoords="offset points",
                    ha="right", va="top", fontsize=8)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(lambda x, _: f"{x:,.0f}")
    ax.set(xlabel="tokens per row (log scale)", ylabel="rows", title=title)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def plot_mix_composition(composition: Mapping[str, Mapping[str, int]], *, title: str = "Mixed data set"):
    """Each source's share of the mix (source -> {"rows": n, "tokens": n}) as 100% bars, by rows and,
    when every source has "tokens", by tokens. Introduced in 04_sampling."""
    from matplotlib.figure import Figure

    measures = [m for m in ("rows", "tokens") if all(m in v for v in composition.values())]
    fig = Figure(figsize=(8, 1.2 + 0.8 * len(measures)))
    ax = fig.add_subplot()
    for y, measure in enumerate(measures):
        total = sum(v[measure] for v in composition.values()) or 1
        left = 0.0
        for i, (name, values) in enumerate(composition.items()):
            share = values[measure] / total
            ax.barh(y, share, left=left, color=_color(name, i), label=name if y == 0 else None)
            if share > 0.08:
                ax.text(left + share / 2, y, f"{name}\n{values[measure]:,} ({share:.0%})", ha="center",
                        va="center", fontsize=8, color="white")
            left += share
    ax.set_yticks(range(len(measures)), [f"by {m}" for m in measures])
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(lambda x, _: f"{x:.0%}")
    ax.invert_yaxis()
    ax.set_title(title, loc="left")
    ax.legend(fontsize=8, loc="lower right", bbox_to_anchor=(1, 1), ncol=len(composition), frameon=False)
    fig.tight_layout()
    return fig


#: What ``plot_training`` draws, in panel order: (log key, label).
TRAINING_PANELS = (("loss", "train/loss"), ("grad_norm", "grad_norm"), ("learning_rate", "learning_rate"),
                   ("epoch", "epoch"))
#: What 09_grpo plots from GRPOTrainer's log.
GRPO_PANELS = (("reward", "reward (mean over the completions)"), ("kl", "kl (to the reference)"),
               ("completions/mean_length", "completion length (tokens)"), ("loss", "train/loss"))


def plot_training(log_history, out_path=None, *, title: str = "LoRA training", panels=TRAINING_PANELS):
    """Four logged values of ``trainer.state.log_history`` against global_step, one panel each; saved
    as a PNG too when ``out_path`` is given. Only per-step entries (with ``loss``) count.
    Introduced in 05_lora_training; 09_grpo passes ``GRPO_PANELS``."""
    from matplotlib.figure import Figure

    steps = [entry for entry in log_history if "loss" in entry and "step" in entry]
    if not steps:
        raise ValueError("log_history has no per-step 'loss' entries: train first (logging_steps >= 1)")
    fig = Figure(figsize=(10, 6))
    axes = fig.subplots(2, 2, sharex=True).flatten()
    for ax, (key, label) in zip(axes, panels):
        points = [(entry["step"], entry[key]) for entry in steps if entry.get(key) is not None]
        if points:
            ax.plot(*zip(*points), marker="o", markersize=2.5, linewidth=1.2)
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes[2:]:
        ax.set_xlabel("global_step")
    fig.suptitle(title)
    fig.tight_layout()
    if out_path is not None:
        fig.savefig(out_path, dpi=110)
    return fig


#: The shares of ``evaluate.eval_table`` that ``plot_eval`` draws, on one 0-100% axis.
EVAL_PANELS = ("accuracy", "format ok", "hit max_new_tokens")


def plot_eval(table, *, title: str = "Held-out rows, before and after fine-tuning"):
    """One panel per thinking mode, one bar per model (the columns of ``evaluate.eval_table``) for each
    of ``EVAL_PANELS``; a NaN draws no bar. Introduced in 07_evaluation."""
    from matplotlib.figure import Figure

    modes = list(dict.fromkeys(table.index.get_level_values(0)))
    models = list(table.columns)
    fig = Figure(figsize=(4.5 * len(modes), 3.4))
    axes = fig.subplots(1, len(modes), sharey=True, squeeze=False)[0]
    width = 0.8 / max(len(models), 1)
    for ax, mode in zip(axes, modes):
        for j, model in enumerate(models):
            values = [table.loc[(mode, metric), model] for metric in EVAL_PANELS]
            xs = [i + (j - (len(models) - 1) / 2) * width for i in range(len(EVAL_PANELS))]
            heights = [0 if v != v else v for v in values]  # v != v: NaN
            ax.bar(xs, heights, width, label=model, color=f"C{j}")
            for x, v, h in zip(xs, values, heights):
                ax.text(x, h + 0.02, "n/a" if v != v else f"{v:.0%}", ha="center", fontsize=7)
        ax.set_xticks(range(len(EVAL_PANELS)), EVAL_PANELS, fontsize=8)
        ax.set_ylim(0, 1.12)
        ax.yaxis.set_major_formatter(lambda y, _: f"{y:.0%}")
        rows = int(table.loc[(mode, "rows"), models[0]]) if (mode, "rows") in table.index else None
        ax.set_title(f"{mode}" + (f" ({rows} rows)" if rows else ""), fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8, loc="upper left", frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


__all__ = ["EVAL_PANELS", "GRPO_PANELS", "SOURCE_COLORS", "TRAINING_PANELS", "plot_eval",
           "plot_length_histogram", "plot_mix_composition", "plot_training"]
