"""Guards the mix counts of notebook 04: the source tutorial's formula and the corrected one.

Fails when the source's formula stops giving what its code gives (int(19,252 x 0.25) = 4,813
chat rows, 20% chat at chat_percentage 0.75: unslothai/notebooks issue 38); when the corrected
formula stops giving the share asked for (57,756 chat rows, 75%, at full size; every chat row and
fewer reasoning rows when the chat rows run out, as with the bundled 240 + 480); when 0 and 1 stop
meaning only reasoning / only chat; when a bad value (-0.1, 1.5, NaN, a string, a bool) or sets
too small to mix are accepted; and when the notebook's pandas recipe on text-only rows, fed the
corrected counts, stops giving that share.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

import qwen3lab as q
from qwen3lab.data.mix import Mix


def test_source_formula_gives_20_percent_at_full_size():
    source, _ = q.mix_counts(19_252, 100_000, 0.75)
    assert source == Mix(19_252, 4_813) and source.total == 24_065
    assert round(source.chat_share, 4) == 0.2


def test_corrected_formula_gives_75_percent_at_full_size():
    _, corrected = q.mix_counts(19_252, 100_000, 0.75)
    assert corrected == Mix(19_252, 57_756) and corrected.chat <= 100_000
    assert corrected.chat_share == 0.75


@pytest.mark.parametrize("n_reasoning, n_chat, p, source, corrected", [
    (240, 480, 0.75, (240, 60), (160, 480)),         # the bundled sets: not enough chat rows for 0.75
    (19_252, 100_000, 0.25, (19_252, 14_439), (19_252, 6_417)),  # Unsloth's later notebook
    (100, 1000, 0.6, (100, 40), (100, 150)),         # 0.6 / 0.4 is 1.4999999999999998 in floating point
    (100, 1000, 0.5, (100, 50), (100, 100)),
    (100, 1000, 0.0, (100, 100), (100, 0)),          # legal: only reasoning (the source's formula: 50% chat)
    (100, 1000, 1.0, (100, 0), (0, 1000)),           # legal: only chat (the source's formula: none)
    (100, 1000, 1, (100, 0), (0, 1000)),             # an int is a number too
])
def test_counts(n_reasoning, n_chat, p, source, corrected):
    assert q.mix_counts(n_reasoning, n_chat, p) == (Mix(*source), Mix(*corrected))


def test_corrected_share_holds_to_the_row():
    for p in (0.1, 0.25, 0.5, 0.75, 0.9):
        for n_reasoning, n_chat in ((19_252, 100_000), (240, 480), (1000, 50)):
            mix = q.mix_counts(n_reasoning, n_chat, p)[1]
            assert mix.reasoning <= n_reasoning and mix.chat <= n_chat
            assert abs(mix.chat_share - p) < 1 / min(mix.chat, mix.reasoning)


@pytest.mark.parametrize("bad", [-0.1, 1.5, math.nan, "0.75", True, None])
def test_bad_percentage_is_refused(bad):
    with pytest.raises(q.DataError, match="chat_percentage"):
        q.mix_counts(10, 10, bad)


@pytest.mark.parametrize("n_reasoning, n_chat, p", [(0, 0, 0.5), (1, 1, 0.9), (0, 10, 0.5), (10, 0, 0.5)])
def test_too_few_rows_to_mix(n_reasoning, n_chat, p):
    with pytest.raises(q.DataError, match="too few rows to mix"):
        q.mix_counts(n_reasoning, n_chat, p)


def test_notebook_recipe_on_text_only_rows():
    """04's cells: pandas sample + concat with the corrected counts, on lists of texts only."""
    from datasets import Dataset

    reasoning_conversations = [f"reasoning {i}" for i in range(240)]
    non_reasoning_conversations = [f"chat {i}" for i in range(480)]
    _, corrected = q.mix_counts(len(reasoning_conversations), len(non_reasoning_conversations), 0.75)
    reasoning_subset = pd.Series(reasoning_conversations).sample(corrected.reasoning, random_state=2407)
    non_reasoning_subset = pd.Series(non_reasoning_conversations).sample(corrected.chat, random_state=2407)
    data = pd.concat([pd.Series(reasoning_subset), pd.Series(non_reasoning_subset)])
    data.name = "text"
    combined_dataset = Dataset.from_pandas(pd.DataFrame(data)).shuffle(seed=3407)
    texts = combined_dataset["text"]
    assert len(texts) == 640 and len(set(texts)) == 640
    assert sum(t.startswith("chat") for t in texts) / len(texts) == 0.75
