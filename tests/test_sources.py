"""Guards the bundled data folders that notebook 03 reads with the source's own ``load_dataset`` call.

Fails when ``load_dataset(<folder>, split=...)`` stops reading them offline (a README whose YAML
``configs`` or ``dataset_info`` no longer maps the split to its file or declares the features),
when their features stop being exactly those of unsloth/OpenMathReasoning-mini (split ``cot``:
eight string columns) and mlabonne/FineTome-100k (``conversations`` of ShareGPT turns,
``source``, ``score`` float64), when the row counts change (240 and 480), when the tiny profile
stops pointing at them, or when the rows stop looking like the real ones.
"""

from __future__ import annotations

import datasets
import pytest
from datasets import Features, List, Value, load_dataset

from qwen3lab.config import BUNDLED_HUB, get_config
from qwen3lab.data.sources import REASONING_COLUMNS

REASONING = BUNDLED_HUB / "unsloth" / "OpenMathReasoning-mini"
CHAT = BUNDLED_HUB / "mlabonne" / "FineTome-100k"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """Both folders read offline into an empty cache, as on a fresh machine."""
    cache = tmp_path_factory.mktemp("hf-datasets")
    offline = datasets.config.HF_HUB_OFFLINE
    datasets.config.HF_HUB_OFFLINE = True  # what HF_DATASETS_OFFLINE=1 sets
    try:
        reasoning = load_dataset(str(REASONING), split="cot", cache_dir=str(cache))
        chat = load_dataset(str(CHAT), split="train", cache_dir=str(cache))
    finally:
        datasets.config.HF_HUB_OFFLINE = offline
    assert all(f["filename"].startswith(str(cache)) for d in (reasoning, chat) for f in d.cache_files)
    return reasoning, chat


def test_features_are_the_real_ones(loaded):
    reasoning, chat = loaded
    assert reasoning.features == Features({name: Value("string") for name in REASONING_COLUMNS})
    assert list(reasoning.features) == list(REASONING_COLUMNS)
    assert chat.features == Features({"conversations": List({"from": Value("string"), "value": Value("string")}),
                                      "source": Value("string"), "score": Value("float64")})


def test_row_counts(loaded):
    reasoning, chat = loaded
    assert (len(reasoning), len(chat)) == (240, 480)


def test_tiny_profile_points_at_the_folders():
    cfg = get_config("tiny")
    assert (cfg.reasoning_dataset, cfg.reasoning_split) == (str(REASONING), "cot")
    assert (cfg.chat_dataset, cfg.chat_split) == (str(CHAT), "train")


def test_rows_look_like_the_real_ones(loaded):
    reasoning, chat = loaded
    assert all("<think>" in s and "</think>" in s for s in reasoning["generated_solution"])
    assert set(reasoning["inference_mode"]) == {"cot"}
    assert {turn["from"] for conv in chat["conversations"] for turn in conv} == {"human", "gpt", "system"}
