"""Mixing the cleaned reasoning and chat rows at a chosen ratio, and the "mixed" stage on disk.

The source tutorial keeps every reasoning row and samples chat rows so that chat makes up
``chat_fraction`` of the result: ``n_chat = int(n_reasoning * f / (1 - f))`` (pandas ``sample``
and ``concat``, then ``Dataset.shuffle``). We do the same with index arithmetic on the Arrow
data (no pandas round trip, no Python copy of the text), and when there are not enough chat
rows we take them all and sample the reasoning rows instead, so the fraction holds either way.

``chat_fraction`` 0 and 1 are legal: all reasoning, all chat (useful to train one skill alone).
A value outside [0, 1], NaN, or not a number is a ``DataError``.

Introduced in 04_sampling.
"""

from __future__ import annotations

import hashlib
import math
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np

from ..artifacts import atomic_dir, require, stage_dir, write_manifest
from .validate import DataError, arrow_column, require_columns

SOURCES = ("reasoning", "chat")
#: Columns the mixed set always has; ``n_tokens`` is kept too when both inputs have it.
MIXED_COLUMNS = ("text", "conversations", "source")


def check_fraction(chat_fraction: Any) -> float:
    """``chat_fraction`` as a float in [0, 1], or a ``DataError`` that says why not. Introduced in 04_sampling."""
    if isinstance(chat_fraction, bool) or not isinstance(chat_fraction, Real):
        raise DataError(f"chat_fraction={chat_fraction!r} must be a number in [0, 1], e.g. 0.75 (the source "
                        "tutorial) or 0.25 (Unsloth's later notebook)")
    value = float(chat_fraction)
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise DataError(f"chat_fraction={chat_fraction!r} is outside [0, 1]: it is the share of chat rows in the "
                        "mix (0 = only reasoning, 1 = only chat)")
    return value


def mix_counts(n_reasoning: int, n_chat: int, chat_fraction: float) -> tuple[int, int]:
    """(reasoning rows, chat rows) the mix takes. Introduced in 04_sampling.

    Every reasoning row and ``int(n_reasoning * f / (1 - f))`` chat rows, as the source; if the
    chat rows run out, every chat row and ``int(n_chat * (1 - f) / f)`` reasoning rows.
    """
    f = check_fraction(chat_fraction)
    if f == 0.0:
        counts = (n_reasoning, 0)
    elif f == 1.0:
        counts = (0, n_chat)
    else:
        wanted = int(n_reasoning * f / (1 - f) + 1e-9)  # + 1e-9: 0.6 / 0.4 is 1.4999999999999998
        counts = (n_reasoning, wanted) if wanted <= n_chat else (int(n_chat * (1 - f) / f + 1e-9), n_chat)
    if sum(counts) == 0 or (0.0 < f < 1.0 and 0 in counts):
        raise DataError(f"chat_fraction={f} of {n_reasoning} reasoning and {n_chat} chat rows gives "
                        f"{counts[0]} reasoning and {counts[1]} chat rows: too few rows to mix at this ratio")
    return counts


def _part(dataset, k: int, source: str, columns: list[str], rng: np.random.Generator):
    """``k`` rows of ``dataset`` drawn without replacement (in their original order), as an Arrow table."""
    import pyarrow as pa

    picked = np.sort(rng.permutation(len(dataset))[:k]) if k < len(dataset) else np.arange(len(dataset))
    table = dataset.select_columns(columns).select(picked).with_format("arrow")[:].replace_schema_metadata(None)
    return table.append_column("source", pa.array([source] * k, pa.string()))


def mix_datasets(reasoning, chat, *, chat_fraction: float = 0.75, seed: int = 3407):
    """The two cleaned sets mixed so that ``chat_fraction`` of the rows are chat, shuffled.

    Columns: ``text``, ``conversations``, ``source`` ("reasoning" or "chat") and ``n_tokens`` if
    both inputs have it. The same inputs and ``seed`` give the same rows in the same order. Built
    with Arrow ``take`` (``Dataset.add_column`` on a sampled set re-encodes every row: 15 s at
    full size). The shuffle is ``Dataset.shuffle``: an index over the rows, applied when saved.
    Introduced in 04_sampling.
    """
    import pyarrow as pa
    from datasets import Dataset

    for name, dataset in (("reasoning", reasoning), ("chat", chat)):
        require_columns(dataset, ["text", "conversations"], hint=f"the {name} set: run notebook 03 (to_text)")
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise DataError(f"seed={seed!r} must be an integer")
    k_reasoning, k_chat = mix_counts(len(reasoning), len(chat), chat_fraction)
    both = set(reasoning.column_names) & set(chat.column_names)
    columns = ["text", "conversations"] + (["n_tokens"] if "n_tokens" in both else [])
    rng = np.random.default_rng(int(seed))
    parts = [_part(reasoning, k_reasoning, "reasoning", columns, rng), _part(chat, k_chat, "chat", columns, rng)]
    if parts[1].schema != parts[0].schema:
        try:
            parts[1] = parts[1].cast(parts[0].schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
            raise DataError(f"the two sets' columns do not match ({parts[0].schema} vs {parts[1].schema}): "
                            "clean both with notebook 03") from exc
    fingerprint = hashlib.sha256(repr((reasoning._fingerprint, chat._fingerprint, float(chat_fraction),
                                       int(seed))).encode()).hexdigest()[:16]
    return Dataset(pa.concat_tables(parts), fingerprint=fingerprint).shuffle(seed=int(seed))


def composition(dataset) -> dict[str, dict[str, int]]:
    """Rows (and tokens, with ``n_tokens``) per source of a mixed set. Introduced in 04_sampling."""
    require_columns(dataset, ["source"])
    source = np.asarray(arrow_column(dataset, "source").to_pylist(), dtype=object)
    tokens = (arrow_column(dataset, "n_tokens").to_numpy(zero_copy_only=False)
              if "n_tokens" in dataset.column_names else None)
    out = {}
    for name in [s for s in SOURCES if s in set(source)] + sorted(set(source) - set(SOURCES)):
        mask = source == name
        out[name] = {"rows": int(mask.sum()), **({"tokens": int(tokens[mask].sum())} if tokens is not None else {})}
    return out


def same_rows(a, b) -> bool:
    """True when two data sets hold the same columns, types and rows in the same order. Introduced in 04_sampling."""
    return a.features == b.features and a.with_format("arrow")[:].equals(b.with_format("arrow")[:])


def save_mixed(dataset, cfg, *, inputs: dict | None = None, extra: dict | None = None,
               figures: dict[str, Any] | None = None) -> Path:
    """Write the mixed set to the "mixed" stage: ``dataset/`` (``save_to_disk``), ``manifest.json``
    and any ``figures`` as PNG, all or nothing (``atomic_dir``). Checks the set first.
    Introduced in 04_sampling.
    """
    require_columns(dataset, MIXED_COLUMNS, hint="make it with mix_datasets")
    if len(dataset) == 0:
        raise DataError("the mixed set has no rows: nothing to train on")
    counts = composition(dataset)
    strange = sorted(set(counts) - set(SOURCES))
    if strange:
        raise DataError(f"column 'source' has values {strange}; expected only {list(SOURCES)}")
    final = stage_dir("mixed")
    with atomic_dir(final) as tmp:
        dataset.save_to_disk(str(tmp / "dataset"))
        for filename, figure in (figures or {}).items():
            figure.savefig(tmp / filename, dpi=100, bbox_inches="tight")
        write_manifest(tmp, what="mixed training set: text (Qwen3 template), conversations, source",
                       cfg=cfg, inputs={"clean": str(stage_dir("clean")), **(inputs or {})},
                       extra={"rows": len(dataset), "composition": counts, "columns": dataset.column_names,
                              "chat_share": round(counts.get("chat", {}).get("rows", 0) / len(dataset), 6),
                              **(extra or {})})
    return final


def load_mixed():
    """The mixed set notebook 04 saved; ``MissingArtifactError`` naming 04 if it is not there.

    Introduced in 04_sampling; read by 05_lora_training.
    """
    from datasets import load_from_disk

    return load_from_disk(str(require("mixed") / "dataset"))


__all__ = ["MIXED_COLUMNS", "SOURCES", "check_fraction", "composition", "load_mixed", "mix_counts",
           "mix_datasets", "same_rows", "save_mixed"]
