"""Checking conversations before training: a report that names the row and the field.

Every check runs over the whole data set at once with pyarrow compute (no per-row Python), so
it costs well under a second for FineTome's 100,000 rows. Problems a learner can fix or drop
go into a ``ValidationReport``; data that cannot be used at all (no ``conversations`` column,
a column of the wrong type, no text to measure) raises ``DataError`` at once.

Token lengths come from ``count_tokens``: for the Qwen2/Qwen3 tokenizer it counts with an
exact, cached re-implementation of the tokenizer's own splitting (about 10x faster than
``tokenizer(texts)`` on a CPU, see ``TokenCounter``); for any other tokenizer it calls the
tokenizer itself.

Introduced in 03_dataset_cleaning.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np

#: The roles a training conversation may use (the Qwen3 template also knows "tool"; our data does not).
ROLES = ("system", "user", "assistant")

#: What to do about each kind of problem, printed with the report.
FIXES: dict[str, str] = {
    "null_conversation": "the row has no conversation (None): drop it",
    "empty_conversation": "the conversation has no turns: drop it",
    "null_turn": "a turn is None: drop the row",
    "unknown_role": f"a role outside {list(ROLES)}: run standardize_sharegpt, or drop the row",
    "null_content": "content is None: drop the row or fill the turn in",
    "non_string_content": "content is not a string: convert it with str() or drop the row",
    "empty_content": "content is empty or whitespace only: drop the row or fill the turn in",
    "system_not_first": "a system turn after the first turn: move it to the front or drop the row",
    "first_not_user": "the first turn after the system prompt is not the user's: drop the row",
    "repeated_role": "two turns in a row by the same role: merge them or drop the row",
    "last_not_assistant": "the conversation does not end with the assistant's answer: drop the last turn or the row",
    "too_long": "longer than max_seq_length tokens: cfg.length_policy decides (report, drop or truncate)",
}


class DataError(ValueError):
    """A data set (or a setting) that cannot be used; the message names the row, the field and the fix.

    Introduced in 03_dataset_cleaning.
    """


@dataclass(frozen=True)
class Problem:
    """One finding: which row, which field, what kind, in words."""

    row: int
    field: str
    kind: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.field}: {self.message}"


@dataclass
class ValidationReport:
    """What ``validate_conversations`` found. Introduced in 03_dataset_cleaning."""

    n_rows: int
    problems: list[Problem] = field(default_factory=list)
    max_seq_length: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        """Number of problems of each kind, in the order of ``FIXES``."""
        found: dict[str, int] = {}
        for p in self.problems:
            found[p.kind] = found.get(p.kind, 0) + 1
        return {kind: found[kind] for kind in FIXES if kind in found}

    def rows(self, *kinds: str) -> list[int]:
        """Sorted indices of the rows with a problem of one of ``kinds`` (any kind if none given)."""
        return sorted({p.row for p in self.problems if not kinds or p.kind in kinds})

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame([vars(p) for p in self.problems], columns=["row", "field", "kind", "message"])

    def summary(self, limit: int = 10) -> str:
        """A table (kind, problems, rows, what to do) and the first ``limit`` problems."""
        if self.ok:
            return f"{self.n_rows} rows checked: no problems"
        lines = [f"{self.n_rows} rows checked: {len(self.problems)} problems in {len(self.rows())} rows"]
        for kind, n in self.counts().items():
            lines.append(f"  {kind:<20} {n:>6} problems {len(self.rows(kind)):>6} rows  -> {FIXES[kind]}")
        lines += [f"  {p}" for p in self.problems[:limit]]
        if len(self.problems) > limit:
            lines.append(f"  ... and {len(self.problems) - limit} more (report.to_pandas() lists them all)")
        return "\n".join(lines)

    __str__ = summary


# -- helpers shared with clean.py and mix.py ------------------------------------------------------


def require_columns(dataset, columns: tuple[str, ...] | list[str], *, hint: str = "") -> None:
    """``DataError`` unless ``dataset`` is a ``datasets.Dataset`` with all of ``columns``."""
    from datasets import Dataset

    if not isinstance(dataset, Dataset):
        raise DataError(f"expected a datasets.Dataset, got {type(dataset).__name__}; "
                        "build one with datasets.Dataset.from_list(rows)")
    missing = [c for c in columns if c not in dataset.column_names]
    if missing:
        raise DataError(f"column(s) {missing} missing; the data set has {dataset.column_names}"
                        + (f". {hint}" if hint else ""))


def arrow_column(dataset, name: str, *, combine: bool = True):
    """One column as pyarrow data, with any ``select``/``shuffle`` applied (no Python objects): a
    single array, or with ``combine=False`` the chunks as stored (no copy)."""
    column = dataset.select_columns([name]).with_format("arrow")[:].column(name)
    return column.combine_chunks() if combine else column


def turns_of(column, *, role_key: str = "role", content_key: str = "content"):
    """Flatten a ``conversations`` column: (turns, parent row of each turn, position in its row, turns per row).

    ``DataError`` when the column is not a list of {role, content} records.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)) or not pa.types.is_struct(
            column.type.value_type):
        raise DataError(f"column 'conversations' has type {column.type}; expected a list of "
                        f"{{{role_key}, {content_key}}} records (one per turn)")
    names = [column.type.value_type.field(i).name for i in range(column.type.value_type.num_fields)]
    missing = [k for k in (role_key, content_key) if k not in names]
    if missing:
        hint = " (ShareGPT rows: run standardize_sharegpt first)" if {"from", "value"} <= set(names) else ""
        raise DataError(f"turns in 'conversations' have fields {names}, missing {missing}{hint}")
    per_row = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    turns = pc.list_flatten(column)
    parent = pc.list_parent_indices(column).to_numpy(zero_copy_only=False).astype(np.int64)
    starts = np.cumsum(per_row) - per_row
    position = np.arange(len(turns), dtype=np.int64) - starts[parent]
    return turns, parent, position, per_row


# -- the checks --------------------------------------------------------------------------------


def _structure_problems(column) -> list[Problem]:
    """Every structural problem of a ``conversations`` column (see ``FIXES``), in row order."""
    import pyarrow as pa
    import pyarrow.compute as pc

    turns, parent, pos, per_row = turns_of(column)
    found: list[tuple[int, int, str, str, str]] = []  # (row, turn, field, kind, message)

    def add(mask: np.ndarray, kind: str, field_name: str, message) -> None:
        for i in np.flatnonzero(mask):
            row, turn = int(parent[i]), int(pos[i])
            found.append((row, turn, f"conversations[{turn}].{field_name}", kind, message(i)))

    for row in np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False)):
        found.append((int(row), -1, "conversations", "null_conversation", "is None"))
    for row in np.flatnonzero((per_row == 0) & column.is_valid().to_numpy(zero_copy_only=False)):
        found.append((int(row), -1, "conversations", "empty_conversation", "has no turns"))

    null_turn = turns.is_null().to_numpy(zero_copy_only=False)
    for i in np.flatnonzero(null_turn):
        found.append((int(parent[i]), int(pos[i]), f"conversations[{int(pos[i])}]", "null_turn", "is None"))

    role = pc.struct_field(turns, "role")
    if pa.types.is_string(role.type) or pa.types.is_large_string(role.type):
        code = pc.fill_null(pc.index_in(role, value_set=pa.array(ROLES)), -1).to_numpy(zero_copy_only=False).copy()
    else:  # e.g. integer roles: none of them is known
        code = np.full(len(role), -1, dtype=np.int64)
    code[null_turn] = -2  # already reported
    add(code == -1, "unknown_role", "role", lambda i: f"{role[int(i)].as_py()!r:.40} is not one of {list(ROLES)}")

    content = pc.struct_field(turns, "content")
    live = ~null_turn
    if pa.types.is_string(content.type) or pa.types.is_large_string(content.type):
        missing = content.is_null().to_numpy(zero_copy_only=False) & live
        blank = pc.or_(pc.equal(pc.binary_length(content), 0), pc.utf8_is_space(content))
        blank = pc.fill_null(blank, False).to_numpy(zero_copy_only=False) & live
        add(missing, "null_content", "content", lambda i: "is None")
        add(blank, "empty_content", "content", lambda i: "is empty" if content[int(i)].as_py() == ""
            else f"is whitespace only ({content[int(i)].as_py()!r:.40})")
    else:
        missing = content.is_null().to_numpy(zero_copy_only=False) & live
        add(missing, "null_content", "content", lambda i: "is None")
        add(~missing & live, "non_string_content", "content",
            lambda i: f"is {content.type} ({content[int(i)].as_py()!r:.40}), not a string")

    system, assistant = 0, 2  # codes: positions in ROLES
    add((code == system) & (pos > 0), "system_not_first", "role", lambda i: f"system turn at position {int(pos[i])}")
    prev = np.concatenate([[-3], code[:-1]])
    first_answer = (code == assistant) & ((pos == 0) | ((pos == 1) & (prev == system)))
    add(first_answer, "first_not_user", "role", lambda i: "the conversation opens with the assistant")
    add((pos > 0) & (code >= 0) & (code == prev) & (code != system), "repeated_role", "role",
        lambda i: f"a second {ROLES[code[i]]} turn in a row")
    last = pos == per_row[parent] - 1
    add(last & (code >= 0) & (code != assistant), "last_not_assistant", "role",
        lambda i: f"the last turn is by the {ROLES[code[i]]}")
    found.sort(key=lambda f: (f[0], f[1]))
    return [Problem(row, field_name, kind, message) for row, _, field_name, kind, message in found]


def validate_conversations(dataset, tokenizer=None, max_seq_length: int | None = None) -> ValidationReport:
    """Check every row's ``conversations`` (and, with ``max_seq_length``, its length in tokens).

    Structural problems are listed in ``FIXES``; lengths come from the ``n_tokens`` column when
    there is one (``add_token_lengths``), else from counting the ``text`` column with
    ``tokenizer``. Raises ``DataError`` when the data set cannot be checked at all.
    Introduced in 03_dataset_cleaning.
    """
    require_columns(dataset, ["conversations"], hint="reasoning rows: run reasoning_to_conversations first")
    problems = _structure_problems(arrow_column(dataset, "conversations"))
    if max_seq_length is not None:
        if not isinstance(max_seq_length, int) or isinstance(max_seq_length, bool) or max_seq_length <= 0:
            raise DataError(f"max_seq_length={max_seq_length!r} must be a positive integer")
        lengths = _lengths_of(dataset, tokenizer)
        for row in np.flatnonzero(lengths > max_seq_length):
            problems.append(Problem(int(row), "text", "too_long",
                                    f"{int(lengths[row])} tokens > max_seq_length {max_seq_length}"))
        problems.sort(key=lambda p: p.row)
    return ValidationReport(n_rows=len(dataset), problems=problems, max_seq_length=max_seq_length)


def _lengths_of(dataset, tokenizer) -> np.ndarray:
    if "n_tokens" in dataset.column_names:
        return arrow_column(dataset, "n_tokens").to_numpy(zero_copy_only=False)
    if "text" not in dataset.column_names:
        raise DataError("checking lengths needs a 'text' column (run to_text first) or an 'n_tokens' "
                        "column (run add_token_lengths)")
    if tokenizer is None:
        raise DataError("checking lengths needs the tokenizer: "
                        "validate_conversations(dataset, tokenizer, max_seq_length)")
    return count_tokens(dataset["text"], tokenizer)


# -- token lengths -----------------------------------------------------------------------------

#: The pre-tokenizer pattern of Qwen2/Qwen2.5/Qwen3's tokenizer.json (``TokenCounter`` relies on it).
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def _byte_level_table() -> dict[int, str]:
    """GPT-2's byte -> printable character map that byte-level BPE vocabularies are written in."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = (b for b in range(256) if b not in printable)
    return {**{b: chr(b) for b in printable}, **{b: chr(256 + n) for n, b in enumerate(extra)}}


class _Memo(dict):
    """A dict that computes a missing value with ``fn``; keeps keys up to ``max_key`` characters
    (long ones rarely come back) and forgets everything past ``limit`` keys."""

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

    Why our own: on a 2-core CPU the Qwen tokenizer spends ~90% of its time in its
    pre-tokenizer regex (Oniguruma, ~1.3 MB/s per core), so counting FineTome + OpenMathReasoning
    (~400 MB of text) takes minutes. For the Qwen2/Qwen3 tokenizer we count the same way it
    splits, with caches: text is cut at its added tokens (``<|im_start|>``, ``<think>``...), each
    piece is cut into "chunks" at every space that follows a non-space character (the
    pre-tokenizer pattern has no look-behind and only ever puts a space at the start of a piece,
    so no piece crosses such a cut; where no space follows another space the cuts are simply
    ``str.split(" ")``), and each distinct chunk is NFC-normalised, split with the same pattern
    and BPE-encoded once by the tokenizer's own model. Tested equal to the tokenizer on every
    bundled row and on edge cases (tests/test_validate.py); the benchmark compares every row at
    full size. Any other tokenizer is simply called.
    """

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        spec = _backend_spec(tokenizer)
        self.fast = spec is not None and _supports_fast_count(tokenizer, spec)
        if self.fast:
            self._build(spec)

    def _build(self, spec: dict) -> None:
        import regex

        added = sorted({a["content"] for a in spec["added_tokens"]}, key=len, reverse=True)
        self._added = re.compile("|".join(map(re.escape, added)))  # longest first = leftmost-longest
        self._chunk = re.compile(r"(?s).*?\S(?= )|.+")
        pieces = regex.compile(QWEN2_PATTERN).findall
        model = self.tokenizer.backend_tokenizer.model
        table = str.maketrans({chr(b): c for b, c in _byte_level_table().items()})
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

    def __call__(self, texts: list[str]) -> np.ndarray:
        if self.fast:
            return np.fromiter(map(self.count_one, texts), dtype=np.int64, count=len(texts))
        out = np.empty(len(texts), dtype=np.int64)
        for start in range(0, len(texts), 1000):  # bounded memory: encodings are large
            ids = self.tokenizer(list(texts[start:start + 1000]), return_attention_mask=False)["input_ids"]
            out[start:start + len(ids)] = [len(x) for x in ids]
        return out


def _backend_spec(tokenizer) -> dict | None:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    try:
        return json.loads(backend.to_str()) if backend is not None else None
    except (AttributeError, ValueError):
        return None


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
_JOB: tuple = ()  # (function, data) that forked workers of map_slices inherit


def _run_slice(bounds: tuple[int, int]):
    fn, data = _JOB
    return fn(data[bounds[0]:bounds[1]])


def map_slices(fn, data, *, num_proc: int | None = None, step: int = 2000) -> list:
    """``[fn(data[a:b]) for each slice of step rows]``, in order; ``data`` is a list or a pyarrow array.

    With ``num_proc`` > 1 the slices go to forked worker processes that inherit ``fn`` and
    ``data`` (an Arrow column is read in place, nothing is pickled but the results), which on a
    2-core CPU costs far less than ``Dataset.map(num_proc=2)``, whose workers unpickle their
    shard of an in-memory table first. Memory stays flat: one slice at a time per process.
    Introduced in 03_dataset_cleaning.
    """
    import multiprocessing

    global _JOB
    bounds = [(a, min(a + step, len(data))) for a in range(0, len(data), step)]
    _JOB = (fn, data)
    try:
        if num_proc and num_proc > 1 and len(bounds) > 1 and "fork" in multiprocessing.get_all_start_methods():
            with multiprocessing.get_context("fork").Pool(min(num_proc, len(bounds))) as pool:
                return pool.map(_run_slice, bounds, chunksize=1)
        return [_run_slice(b) for b in bounds]
    finally:
        _JOB = ()


def _python(part) -> list:
    return part.to_pylist() if hasattr(part, "to_pylist") else list(part)


def count_tokens(texts, tokenizer, *, num_proc: int | None = None) -> np.ndarray:
    """Token count of each text, as ``len(tokenizer(text).input_ids)``. Introduced in 03_dataset_cleaning.

    ``texts``: a list of strings or a pyarrow string array; ``num_proc`` > 1 counts in that many
    forked processes (``map_slices``), each inheriting the counter and its caches.
    """
    counter = _COUNTERS.get(id(tokenizer))
    if counter is None or counter.tokenizer is not tokenizer:
        counter = _COUNTERS[id(tokenizer)] = TokenCounter(tokenizer)
    if not hasattr(texts, "to_pylist"):
        texts = list(texts)
    parts = map_slices(lambda part: counter(_python(part)), texts, num_proc=num_proc)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def length_stats(datasets, *, max_seq_length: int | None = None):
    """Token-length statistics of ``n_tokens``, one row per source.

    ``datasets``: a mapping name -> data set (e.g. ``{"reasoning": ..., "chat": ...}``), or one data
    set with a ``source`` column (the mixed set). Columns: rows, tokens, mean, p50, p90, p99, max
    and, with ``max_seq_length``, how many rows are longer. Introduced in 03_dataset_cleaning.
    """
    import pandas as pd

    if not isinstance(datasets, dict):
        require_columns(datasets, ["n_tokens", "source"], hint="run add_token_lengths first")
        source = np.asarray(arrow_column(datasets, "source").to_pylist(), dtype=object)
        lengths = arrow_column(datasets, "n_tokens").to_numpy(zero_copy_only=False)
        datasets = {name: lengths[source == name] for name in dict.fromkeys(source.tolist())}
    else:
        for name, dataset in datasets.items():
            require_columns(dataset, ["n_tokens"], hint=f"{name}: run add_token_lengths first")
        datasets = {name: arrow_column(d, "n_tokens").to_numpy(zero_copy_only=False) for name, d in datasets.items()}
    rows = {}
    for name, n in datasets.items():
        row = {"rows": len(n), "tokens": int(n.sum()), "mean": round(float(n.mean()), 1) if len(n) else 0.0}
        for label, q in (("p50", 50), ("p90", 90), ("p99", 99)):
            row[label] = int(np.percentile(n, q, method="lower")) if len(n) else 0
        row["max"] = int(n.max()) if len(n) else 0
        if max_seq_length is not None:
            row[f"> {max_seq_length}"] = int((n > max_seq_length).sum())
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


__all__ = ["FIXES", "ROLES", "DataError", "Problem", "TokenCounter", "ValidationReport", "count_tokens",
           "length_stats", "map_slices", "require_columns", "validate_conversations"]
