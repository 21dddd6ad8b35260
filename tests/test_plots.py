"""Guards the figures of notebooks 03 and 04: they are built without pyplot, return a Figure,
and show what their titles say (one histogram per source with the length limit marked; the
share of each source by rows and by tokens)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

from qwen3lab.plots import GRPO_PANELS, plot_length_histogram, plot_mix_composition, plot_training  # noqa: E402


def test_length_histogram(tmp_path):
    fig = plot_length_histogram({"reasoning": [300, 3000, 9000], "chat": [50, 400]}, max_seq_length=8192)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["reasoning (3 rows, median 3000)",
                                                                   "chat (2 rows, median 225)"]
    assert any("max_seq_length = 8192" in t.get_text() for t in ax.texts)
    fig.savefig(tmp_path / "lengths.png")
    assert (tmp_path / "lengths.png").stat().st_size > 1000
    assert isinstance(plot_length_histogram({"chat": []}), Figure)  # an empty source still draws


def test_mix_composition():
    fig = plot_mix_composition({"reasoning": {"rows": 25, "tokens": 900}, "chat": {"rows": 75, "tokens": 100}})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["by rows", "by tokens"]
    labels = [t.get_text() for t in ax.texts]
    assert "chat\n75 (75%)" in labels and "reasoning\n900 (90%)" in labels
    rows_only = plot_mix_composition({"reasoning": {"rows": 1}, "chat": {"rows": 3}})
    assert [t.get_text() for t in rows_only.axes[0].get_yticklabels()] == ["by rows"]


def test_training_curves_take_grpo_panels():
    """09 plots GRPOTrainer's log with the same function as 05: each panel its key's points, a step
    that logged no value for a key (no KL with beta = 0) is left out, not drawn as 0."""
    history = [{"step": 1, "loss": 0.0, "reward": 0.5, "completions/mean_length": 32.0},
               {"step": 2, "loss": 0.1, "reward": 0.8, "kl": 0.01, "completions/mean_length": 28.0},
               {"train_loss": 0.05, "step": 2}]
    fig = plot_training(history, title="GRPO", panels=GRPO_PANELS)
    assert [ax.get_title() for ax in fig.axes] == [label for _, label in GRPO_PANELS]
    points = {label: [tuple(line.get_xydata()[:, 1]) for line in ax.get_lines()] for ax, (_, label) in
              zip(fig.axes, GRPO_PANELS)}
    assert points[GRPO_PANELS[0][1]] == [(0.5, 0.8)] and points[GRPO_PANELS[1][1]] == [(0.01,)]
    assert points[GRPO_PANELS[2][1]] == [(32.0, 28.0)]
