"""Where the two data sets come from: the Hub, or folders bundled with the package.

The tiny profile points ``cfg.reasoning_dataset`` and ``cfg.chat_dataset`` at ``BUNDLED_HUB``'s
folders, which have the layout of the Hub sets (a ``README.md`` whose YAML declares the split
and the features, the rows under ``data/``), so notebook 03's cell is the source's own
``load_dataset(cfg.reasoning_dataset, split=cfg.reasoning_split)`` on both profiles, offline on
the tiny one. The bundled rows are synthetic, in the real schemas (see each folder's README).

Introduced in 03_dataset_cleaning.
"""

from __future__ import annotations

from ..config import BUNDLED_HUB  # the bundled folders: BUNDLED_HUB / "unsloth" / "OpenMathReasoning-mini"

#: Rows of the splits the source loads (dataset cards): OpenMathReasoning-mini ``cot`` and
#: FineTome-100k ``train``. The bundled folders have 240 and 480.
FULL_ROWS = {"reasoning": 19_252, "chat": 100_000}

#: The eight string columns of OpenMathReasoning-mini, in the Hub's order.
REASONING_COLUMNS = ("expected_answer", "problem_type", "problem_source", "generation_model",
                     "pass_rate_72b_tir", "problem", "generated_solution", "inference_mode")

__all__ = ["FULL_ROWS", "REASONING_COLUMNS"]  # BUNDLED_HUB: exported by config
