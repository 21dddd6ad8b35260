"""Where the two data sets come from: the Hub, or folders bundled with the package.

The tiny profile points ``cfg.reasoning_dataset`` and ``cfg.chat_dataset`` at ``BUNDLED_HUB``'s
folders, laid out as the Hub sets are, so notebook 03's ``load_dataset(...)`` is the source's own on
both profiles, offline on the tiny one. Their rows are synthetic, in the real schemas.
Introduced in 03_dataset_cleaning.
"""

from __future__ import annotations

from ..config import BUNDLED_HUB  # noqa: F401  (the bundled folders: BUNDLED_HUB / "unsloth" / ...)

#: Rows of the splits the source loads (dataset cards): OpenMathReasoning-mini ``cot``, FineTome-100k
#: ``train``.
FULL_ROWS = {"reasoning": 19_252, "chat": 100_000}

#: The eight string columns of OpenMathReasoning-mini, in the Hub's order.
REASONING_COLUMNS = ("expected_answer", "problem_type", "problem_source", "generation_model",
                     "pass_rate_72b_tir", "problem", "generated_solution", "inference_mode")

__all__ = ["FULL_ROWS", "REASONING_COLUMNS"]  # BUNDLED_HUB: exported by config
