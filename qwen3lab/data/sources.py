"""The two raw data sets, from the Hub (``full``) or bundled with the package (``tiny``).

Bundled rows are ours (written by ``data/synth.py``), in the exact schemas of
``unsloth/OpenMathReasoning-mini`` (split ``cot``) and ``mlabonne/FineTome-100k``, so every
later step runs the same code on both.

Introduced in 03_dataset_cleaning.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..config import BUNDLED, Config

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REASONING_FIXTURE = FIXTURES / "openmath_cot.jsonl"
CHAT_FIXTURE = FIXTURES / "finetome.jsonl"

REASONING_COLUMNS = ("expected_answer", "problem_type", "problem_source", "generation_model",
                     "pass_rate_72b_tir", "problem", "generated_solution", "inference_mode")


def reasoning_features():
    """``datasets.Features`` of OpenMathReasoning-mini ``cot``: eight string columns."""
    from datasets import Features, Value

    return Features({name: Value("string") for name in REASONING_COLUMNS})


def chat_features():
    """``datasets.Features`` of FineTome-100k: ShareGPT ``conversations``, ``source``, ``score``."""
    from datasets import Features, List, Value

    return Features({
        "conversations": List({"from": Value("string"), "value": Value("string")}),
        "source": Value("string"),
        "score": Value("float64"),
    })


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{number} is not valid JSON ({exc}); regenerate with "
                                     "`python tools/make_fixtures.py`") from exc
    return rows


def _bundled(path: Path, features):
    from datasets import Dataset

    return Dataset.from_list(_read_jsonl(path), features=features)


def load_reasoning(cfg: Config):
    """The reasoning data set (OpenMathReasoning-mini ``cot`` or the bundled rows). Introduced in 03."""
    if cfg.reasoning_dataset == BUNDLED:
        return _bundled(REASONING_FIXTURE, reasoning_features())
    from datasets import load_dataset

    return load_dataset(cfg.reasoning_dataset, split=cfg.reasoning_split)


def load_chat(cfg: Config):
    """The chat data set (FineTome-100k or the bundled rows). Introduced in 03_dataset_cleaning."""
    if cfg.chat_dataset == BUNDLED:
        return _bundled(CHAT_FIXTURE, chat_features())
    from datasets import load_dataset

    return load_dataset(cfg.chat_dataset, split=cfg.chat_split)


def load_datasets(cfg: Config):
    """(reasoning, chat) as ``datasets.Dataset`` objects for the active profile. Introduced in 03."""
    return load_reasoning(cfg), load_chat(cfg)


__all__ = ["chat_features", "load_chat", "load_datasets", "load_reasoning", "reasoning_features"]
