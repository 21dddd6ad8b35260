"""Token lengths of the rendered rows (``max_seq_length`` is counted in tokens), their statistics,
and ``cfg.length_policy`` for the rows over the limit. Introduced in 03_dataset_cleaning.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence

import numpy as np

from .validate import DataError

#: The pre-tokenizer pattern of Qwen2/Qwen2.5/Qwen3's tokenizer.json (``TokenCounter`` relies on it).
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
#: What ``apply_length_policy`` knows; SFTTrainer cuts the rows it keeps at ``max_length`` itself.
LENGTH_POLICIES = ("report", "drop")


class _Memo(dict):
    """Computes a missing value with ``fn``; keeps only short keys (long ones rarely come back), and
    forgets everything past ``limit`` keys."""

    def __init__(self, fn, limit: int = 1_000_000, max_key: int = 48):
        super().__init__()
        self.fn, self.limit, self.max_key = fn, limit, max_key

    def __missing__(self, key):
        value = self.fn(key)
        if len(key) <= self.max_key:
            if len(self) >= self.limit:
                self.clear()
            self[key] = value
        return value


class TokenCounter:
    """``len(tokenizer(text).input_ids)`` for many texts, fast, exactly.

    On a CPU the Qwen tokenizer spends most of its time in its pre-tokenizer regex, so for the
    Qwen2/Qwen3 tokenizer we count the way it splits, with caches: text is cut at its added tokens
    (``<|im_start|>``, ``<think>``...), each piece into "chunks" at every space that follows a
    non-space (the pattern only ever puts a space at the start of a piece, so no piece crosses such
    a cut), and each distinct chunk is NFC-normalised, split with the same pattern and BPE-encoded
    once by the tokenizer's own model (benchmarks/bench_data.py times it). Tested equal to the
    tokenizer on every bundled row and on edge cases. Any other tokenizer is simply called.
    """

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        try:
            spec = json.loads(tokenizer.backend_tokenizer.to_str())
        except (AttributeError, ValueError):
            spec = None
        self.fast = spec is not None and _supports_fast_count(tokenizer, spec)
        if not self.fast:
            return
        import regex

        added = sorted({a["content"] for a in spec["added_tokens"]}, key=len, reverse=True)
        self._added = re.compile("|".join(map(re.escape, added)))  # longest first = leftmost-longest
        self._chunk = re.compile(r"(?s).*?\S(?= )|.+")
        pieces = regex.compile(QWEN2_PATTERN).findall
        model = self.tokenizer.backend_tokenizer.model
        # GPT-2's byte -> printable character map that byte-level BPE vocabularies are written in
        printable = {*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                     *range(ord("®"), ord("ÿ") + 1)}
        unprintable = (b for b in range(256) if b not in printable)
        table = str.maketrans({chr(b): chr(256 + n) for n, b in enumerate(unprintable)})
        bpe = _Memo(lambda p: len(model.tokenize(p.encode("utf-8").decode("latin-1").translate(table))))
        self._chunks = _Memo(lambda c: sum(map(bpe.__getitem__, pieces(unicodedata.normalize("NFC", c)))))
        self._after_space = _Memo(lambda part: self._chunks[" " + part])  # the chunk " " + part
        self._space_after_space = re.compile(r"\s ")

    def count_one(self, text: str) -> int:
        segments = self._added.split(text)  # the added tokens are one token each
        count = len(segments) - 1
        chunk, after_space = self._chunks.__getitem__, self._after_space.__getitem__
        for segment in segments:
            if not segment:
                continue
            if self._space_after_space.search(segment) is None:  # every space follows a non-space: a cut
                parts = segment.split(" ")
                count += chunk(parts[0]) + sum(map(after_space, parts[1:]))
            else:
                count += sum(map(chunk, self._chunk.findall(segment)))
        return count

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        if self.fast:
            return np.fromiter(map(self.count_one, texts), dtype=np.int64, count=len(texts))
        out = np.empty(len(texts), dtype=np.int64)
        for start in range(0, len(texts), 1000):  # bounded memory: encodings are large
            ids = self.tokenizer(list(texts[start:start + 1000]), return_attention_mask=False)["input_ids"]
            out[start:start + len(ids)] = [len(x) for x in ids]
        return out


def _supports_fast_count(tokenizer, spec: dict) -> bool:
    """True when ``tokenizer`` is exactly the kind ``TokenCounter`` re-implements (Qwen2/Qwen3 BPE)."""
    import importlib.util

    if importlib.util.find_spec("regex") is None:  # installed with transformers
        return False
    try:
        pre, model = spec["pre_tokenizer"] or {}, spec["model"]
        split, byte_level = pre["pretokenizers"] if pre.get("type") == "Sequence" else ({}, {})
        return (spec["normalizer"] in (None, {"type": "NFC"})
                and split == {"type": "Split", "pattern": {"Regex": QWEN2_PATTERN}, "behavior": "Isolated",
                              "invert": False}
                and byte_level.get("type") == "ByteLevel" and not byte_level.get("add_prefix_space")
                and not byte_level.get("use_regex")
                and model["type"] == "BPE" and model.get("dropout") is None
                and not model.get("byte_fallback") and not model.get("ignore_merges")
                and not model.get("continuing_subword_prefix") and not model.get("end_of_word_suffix")
                and all(not (a["lstrip"] or a["rstrip"] or a["single_word"] or a["normalized"])
                        for a in spec["added_tokens"])
                and tokenizer("a b")["input_ids"] == tokenizer("a b", add_special_tokens=False)["input_ids"])
    except (KeyError, TypeError, ValueError, AttributeError):  # another kind of tokenizer
        return False


_COUNTERS: dict[int, TokenCounter] = {}


def count_tokens(texts: Sequence[str], tokenizer) -> np.ndarray:
    """Token count of each text, as ``len(tokenizer(text).input_ids)`` (see ``TokenCounter``).

    Introduced in 03_dataset_cleaning."""
    counter = _COUNTERS.get(id(tokenizer))
    if counter is None or counter.tokenizer is not tokenizer:
        counter = _COUNTERS[id(tokenizer)] = TokenCounter(tokenizer)
    return counter(texts if isinstance(texts, (list, tuple)) else list(texts))


def length_stats(lengths: Mapping[str, Sequence[int]], *, max_seq_length: int | None = None):
    """Token-length statistics, one row per set (``lengths``: name -> token counts): rows, tokens,
    mean, p50, p90, p99, max and, with ``max_seq_length``, how many rows are longer.
    Introduced in 03_dataset_cleaning."""
    import pandas as pd

    rows = {}
    for name, values in lengths.items():
        n = np.asarray(values, dtype=np.int64)
        row = {"rows": len(n), "tokens": int(n.sum()), "mean": round(float(n.mean()), 1) if len(n) else 0.0}
        for label, q in (("p50", 50), ("p90", 90), ("p99", 99)):
            row[label] = int(np.percentile(n, q, method="lower")) if len(n) else 0
        row["max"] = int(n.max()) if len(n) else 0
        if max_seq_length is not None:
            row[f"> {max_seq_length}"] = int((n > max_seq_length).sum())
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def apply_length_policy(texts: Sequence[str], lengths: Sequence[int], *, max_seq_length: int,
                        policy: str) -> tuple[list[str], np.ndarray]:
    """(texts, lengths) after ``policy`` (``cfg.length_policy``) for the rows longer than
    ``max_seq_length``: ``"drop"`` removes them (a reasoning row cut at the limit loses its answer,
    and the model would learn to stop mid-thought); ``"report"`` keeps them, and SFTTrainer cuts
    each to ``max_seq_length`` tokens. Introduced in 03_dataset_cleaning."""
    if policy not in LENGTH_POLICIES:
        raise DataError(f"length_policy={policy!r} is not one of {list(LENGTH_POLICIES)} ('report' keeps long "
                        "rows and lets SFTTrainer cut them at max_seq_length)")
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) != len(texts):
        raise DataError(f"{len(texts)} texts but {len(lengths)} lengths: count the tokens of these texts again")
    if policy == "report":
        return list(texts), lengths
    keep = np.flatnonzero(lengths <= max_seq_length)
    return [texts[i] for i in keep], lengths[keep]


__all__ = ["LENGTH_POLICIES", "QWEN2_PATTERN", "TokenCounter", "apply_length_policy", "count_tokens",
           "length_stats"]
