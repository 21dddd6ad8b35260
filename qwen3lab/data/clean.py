"""From the two raw data sets to conversations rendered through the Qwen3 chat template.

    reasoning rows --reasoning_to_conversations--+
                                                 +--> validate --> to_text --> add_token_lengths
    ShareGPT rows  --standardize_sharegpt--------+      --> apply_length_policy --> save_clean

The two conversions are batched ``Dataset.map`` calls in Arrow format: only their input columns
go in, the new column is assembled with pyarrow (no per-row Python), and the untouched columns
are never copied. Rendering and token counting need Python strings, so they read the Arrow
column in slices of 2,000 rows (``map_slices``: one process, or forked workers with
``num_proc``) and attach the new column. The chat template is applied with a renderer that is
checked against the tokenizer's own template before it is trusted (see ``to_text``).

Introduced in 03_dataset_cleaning.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..artifacts import atomic_dir, require, stage_dir, write_manifest
from .validate import (FIXES, ROLES, DataError, ValidationReport, arrow_column, count_tokens, length_stats,
                       map_slices, require_columns, turns_of, validate_conversations)

#: ShareGPT role names -> chat roles; the same aliases as Unsloth's ``standardize_sharegpt``,
#: compared after ``strip().lower()`` as Unsloth does.
ROLE_ALIASES: dict[str, str] = {
    "system": "system",
    "user": "user", "human": "user", "input": "user",
    "assistant": "assistant", "gpt": "assistant", "output": "assistant",
}
#: Columns every cleaned data set has (``save_clean`` checks them).
CLEAN_COLUMNS = ("conversations", "text", "n_tokens")
_VERSION = "qwen3lab-clean-1"  # part of every map's cache fingerprint: bump when the output changes


# -- plumbing ------------------------------------------------------------------------------


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(repr((_VERSION, *parts)).encode()).hexdigest()[:16]


def _map_columns(dataset, fn: Callable, *, inputs: list[str], name: str, key: tuple, num_proc: int | None,
                 desc: str, batch_size: int = 1000):
    """``dataset`` with the columns ``fn`` computes added (or replaced), in the original order.

    ``fn`` takes a ``pyarrow.Table`` batch of the ``inputs`` columns and returns a table of new
    columns. Only ``inputs`` go through the batched ``map`` and only the new columns come out,
    so the columns a step does not touch are never copied; the new ones are joined to the others
    as Arrow columns. The fingerprint is ours (inputs' fingerprint + ``key``): datasets need not
    hash ``fn``, and a re-run on the same memory-mapped data reuses the cached result.
    """
    fingerprint = _fingerprint(dataset._fingerprint, name, key)
    new = dataset.select_columns(inputs).with_format("arrow").map(
        fn, batched=True, batch_size=batch_size, num_proc=num_proc, desc=desc, new_fingerprint=fingerprint)
    return _attach(dataset, {c: new.data.table.column(c) for c in new.column_names}, fingerprint)


def _attach(dataset, columns: dict, fingerprint: str):
    """``dataset`` with Arrow ``columns`` added, or replacing the columns of the same name."""
    import pyarrow as pa
    from datasets import Features

    base = _without_indices(dataset)
    table, features = base.data.table, base.features.copy()
    for name, values in columns.items():
        index = table.schema.get_field_index(name)
        field = pa.field(name, values.type)
        table = table.set_column(index, field, values) if index >= 0 else table.append_column(field, values)
        features[name] = Features.from_arrow_schema(pa.schema([field]))[name]
    return _dataset(table, base, features, fingerprint)


def _dataset(table, like, features, fingerprint: str):
    """A ``Dataset`` over a pyarrow table, with ``like``'s info and ``features``.

    (``Dataset.add_column`` would do, but its horizontally concatenated table cannot be sharded
    for ``map(num_proc=2)`` in datasets 4.8: the workers fail to unpickle it.)
    """
    from datasets import Dataset

    info = like.info.copy()
    info.features = features
    return Dataset(table.replace_schema_metadata(None), info=info, fingerprint=fingerprint)


def _without_indices(dataset):
    """The rows of ``dataset`` as a plain table (after ``select``/``shuffle``), gathered by Arrow.

    ``Dataset.flatten_indices`` re-encodes every row through a ``map`` (seconds per 100k rows).
    """
    if dataset._indices is None:
        return dataset
    table = dataset.with_format("arrow")[:]
    return _dataset(table, dataset, dataset.features.copy(), _fingerprint(dataset._fingerprint, "gathered"))


def _list_of_turns(per_row: np.ndarray, roles, contents, nulls=None, turn_nulls=None):
    """A ``list<struct<role, content>>`` array from flat turns and the number of turns per row."""
    import pyarrow as pa

    turns = pa.StructArray.from_arrays([roles, contents], names=["role", "content"], mask=turn_nulls)
    offsets = pa.array(np.concatenate([[0], np.cumsum(per_row)]).astype(np.int32))
    return pa.ListArray.from_arrays(offsets, turns, mask=nulls)


def _as_string(array, column: str):
    import pyarrow as pa

    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind):
        return array.cast(pa.string())
    raise DataError(f"column {column!r} has type {array.type}; expected strings")


# -- 1. reasoning rows -> conversations -------------------------------------------------------


def _reasoning_batch(batch):
    import pyarrow as pa

    problem = _as_string(batch.column("problem").combine_chunks(), "problem")
    solution = _as_string(batch.column("generated_solution").combine_chunks(), "generated_solution")
    n = len(problem)
    order = np.stack([np.arange(n), np.arange(n) + n], axis=1).ravel()  # user, assistant, user, ...
    contents = pa.concat_arrays([problem, solution]).take(pa.array(order))
    roles = pa.array(["user", "assistant"] * n, pa.string())
    return pa.table({"conversations": _list_of_turns(np.full(n, 2), roles, contents)})


def reasoning_to_conversations(dataset, *, num_proc: int | None = None):
    """Add ``conversations``: ``problem`` as the user's turn, ``generated_solution`` as the assistant's.

    The solution keeps its ``<think>...</think>`` block; the Qwen3 template turns it into the
    thinking part of the answer. None values are kept (``validate_conversations`` reports them).
    Introduced in 03_dataset_cleaning.
    """
    require_columns(dataset, ["problem", "generated_solution"],
                    hint="expected OpenMathReasoning-mini rows (split 'cot')")
    return _map_columns(dataset, _reasoning_batch, inputs=["problem", "generated_solution"],
                        name="reasoning_to_conversations", key=(), num_proc=num_proc, desc="reasoning -> conversations")


# -- 2. ShareGPT -> role/content ------------------------------------------------------------------


def _turn_fields(dataset) -> list[str]:
    import pyarrow as pa

    kind = dataset.data.schema.field("conversations").type
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)) or not pa.types.is_struct(kind.value_type):
        raise DataError(f"column 'conversations' has type {kind}; expected a list of turns")
    return [kind.value_type.field(i).name for i in range(kind.value_type.num_fields)]


def _role_codes(raw_roles):
    """Index into ``ROLE_ALIASES`` values for each raw role (null where unknown)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    normal = pc.utf8_lower(pc.utf8_trim_whitespace(_as_string(raw_roles, "conversations[].from")))
    return pc.index_in(normal, value_set=pa.array(list(ROLE_ALIASES)))


def _sharegpt_batch(batch):
    import pyarrow as pa
    import pyarrow.compute as pc

    column = batch.column("conversations").combine_chunks()
    turns, _, _, per_row = turns_of(column, role_key="from", content_key="value")
    roles = pa.array(list(ROLE_ALIASES.values()), pa.string()).take(_role_codes(pc.struct_field(turns, "from")))
    contents = pc.struct_field(turns, "value")
    conversations = _list_of_turns(per_row, roles, contents, nulls=column.is_null(), turn_nulls=turns.is_null())
    return pa.table({"conversations": conversations})


def role_counts(dataset, key: str | None = None) -> dict[str, int]:
    """How many turns of each role the whole data set has (``key``: "from" or "role", found if None).

    Introduced in 03_dataset_cleaning.
    """
    import pyarrow.compute as pc

    require_columns(dataset, ["conversations"])
    key = key or ("from" if "from" in _turn_fields(dataset) else "role")
    turns = pc.list_flatten(arrow_column(dataset, "conversations"))
    counts = pc.value_counts(pc.struct_field(turns, key)).to_pylist()
    return dict(sorted(((c["values"], c["counts"]) for c in counts), key=lambda kv: -kv[1]))


def standardize_sharegpt(dataset, *, num_proc: int | None = None):
    """``conversations`` from ShareGPT ``{from, value}`` turns to ``{role, content}`` (human -> user,
    gpt -> assistant, system -> system; see ``ROLE_ALIASES``). Rows already in role/content form
    come back unchanged.

    Does what ``unsloth.chat_templates.standardize_sharegpt`` does, with the same aliases and the
    same output, but without needing Unsloth (the transformers backend must work without it), and
    it checks the roles of every turn before converting anything: Unsloth looks at the first 10
    rows and fails on an unknown role later with a bare ``KeyError`` inside ``map``. Here an
    unknown or missing role is a ``DataError`` naming its rows and field. Other turn fields are
    dropped (the Qwen3 template reads only role and content). Introduced in 03_dataset_cleaning.
    """
    import pyarrow.compute as pc

    require_columns(dataset, ["conversations"], hint="expected ShareGPT rows such as FineTome-100k")
    fields = _turn_fields(dataset)
    if {"role", "content"} <= set(fields):
        return dataset
    if not {"from", "value"} <= set(fields):
        raise DataError(f"turns have fields {fields}; expected ShareGPT 'from'/'value' or 'role'/'content'")
    turns, parent, position, _ = turns_of(arrow_column(dataset, "conversations"), role_key="from", content_key="value")
    raw = pc.struct_field(turns, "from")
    unknown = np.flatnonzero(pc.is_null(_role_codes(raw)).to_numpy(zero_copy_only=False)
                             & turns.is_valid().to_numpy(zero_copy_only=False))
    if len(unknown):
        where = [f"row {parent[i]}, conversations[{position[i]}].from = {raw[int(i)].as_py()!r}" for i in unknown[:5]]
        raise DataError(f"{len(unknown)} turn(s) in {len(set(parent[unknown]))} row(s) have a role that is not a "
                        f"known ShareGPT role {sorted(ROLE_ALIASES)}: " + "; ".join(where)
                        + ". Fix or drop those rows (dataset.select), or map the name first.")
    return _map_columns(dataset, _sharegpt_batch, inputs=["conversations"], name="standardize_sharegpt",
                        key=(tuple(ROLE_ALIASES.items()),), num_proc=num_proc, desc="ShareGPT -> role/content")


# -- 3. the chat template ---------------------------------------------------------------------------


def render_qwen3(roles: list[str], contents: list[str]) -> str:
    """Qwen3's chat template for a training row (no generation prompt), in plain Python.

    Why our own: the Jinja template costs ~0.2 ms a row on a 2-core CPU (~30 s for both data sets),
    this ~5 us. It follows the template line by line (system first; the last user query; a
    ``<think>`` block, possibly empty, on assistant turns after it; ``</think>`` split off earlier
    turns) and ``to_text`` uses it only after it reproduced the tokenizer's template exactly.
    Introduced in 03_dataset_cleaning.
    """
    n = len(roles)
    out = [f"<|im_start|>system\n{contents[0]}<|im_end|>\n"] if n and roles[0] == "system" else []
    last_query = n - 1
    for i in range(n - 1, -1, -1):
        c = contents[i]
        if roles[i] == "user" and not (c.startswith("<tool_response>") and c.endswith("</tool_response>")):
            last_query = i
            break
    for i in range(n):
        role, content = roles[i], contents[i]
        if role == "user" or (role == "system" and i > 0):
            out.append(f"<|im_start|>{role}\n{content}<|im_end|>\n")
        elif role == "assistant":
            thinking = ""
            if "</think>" in content:
                parts = content.split("</think>")
                thinking = parts[0].rstrip("\n").split("<think>")[-1].lstrip("\n")
                content = parts[-1].lstrip("\n")
            if i > last_query and (i == n - 1 or thinking):
                thinking, content = thinking.strip("\n"), content.lstrip("\n")
                out.append(f"<|im_start|>assistant\n<think>\n{thinking}\n</think>\n\n{content}<|im_end|>\n")
            else:
                out.append(f"<|im_start|>assistant\n{content}<|im_end|>\n")
    return "".join(out)


#: Conversations that take every branch of the Qwen3 template that ``render_qwen3`` follows.
PROBES: list[list[tuple[str, str]]] = [
    [("user", "1+1?"), ("assistant", "2")],
    [("system", "Be brief."), ("user", "Hi"), ("assistant", "<think>\ngreet\n</think>\n\nHello!")],
    [("user", "a"), ("assistant", "x</think>y"), ("user", "b"), ("assistant", "\n\nc <think>r</think>\n\nd\n")],
    [("system", "s"), ("user", "u"), ("assistant", "a"), ("system", "s2"), ("user", "u2"), ("assistant", "a2")],
    [("user", "<tool_response>r</tool_response>"), ("assistant", "a")],
    [("user", "q"), ("assistant", "<think>t</think>a1"), ("assistant", "a2")],
    [("assistant", "first"), ("user", "q"), ("assistant", "")],
    [("user", " "), ("assistant", "\n")],
    [("user", "q")],
]


_FAST_OK: dict[tuple[str, bool], bool] = {}


def uses_fast_template(tokenizer, enable_thinking: bool = True) -> bool:
    """True when ``render_qwen3`` renders exactly like ``tokenizer``'s chat template on ``PROBES``."""
    from ..chat import render_chat

    template = getattr(tokenizer, "chat_template", None)
    if not isinstance(template, str):
        return False
    key = (template, bool(enable_thinking))
    if key not in _FAST_OK:
        _FAST_OK[key] = all(
            render_qwen3([r for r, _ in probe], [c for _, c in probe]) == render_chat(
                tokenizer, [{"role": r, "content": c} for r, c in probe], enable_thinking=enable_thinking,
                add_generation_prompt=False)
            for probe in PROBES)
    return _FAST_OK[key]


def _require_renderable(dataset) -> None:
    """``DataError`` for rows the template cannot render, or would render wrongly without a word."""
    report = validate_conversations(dataset)
    fatal = [p for p in report.problems if p.kind not in ("empty_content", "system_not_first", "first_not_user",
                                                          "repeated_role", "last_not_assistant")]
    if fatal:
        shown = "; ".join(str(p) for p in fatal[:5])
        raise DataError(f"{len(fatal)} problem(s) stop the chat template: {shown}. Run "
                        "validate_conversations and drop_problem_rows first.")


def _render_slice(conversations, *, tokenizer, enable_thinking: bool):
    """Texts of a slice of the ``conversations`` column (``render_qwen3``, or the tokenizer's template)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    turns, _, _, per_row = turns_of(conversations)
    roles, contents = pc.struct_field(turns, "role").to_pylist(), pc.struct_field(turns, "content").to_pylist()
    ends = np.cumsum(per_row).tolist()
    starts = [0, *ends[:-1]]
    if tokenizer is None:
        texts = [render_qwen3(roles[a:b], contents[a:b]) for a, b in zip(starts, ends)]
    else:
        from ..chat import render_chat

        texts = [render_chat(tokenizer, [{"role": r, "content": c} for r, c in zip(roles[a:b], contents[a:b])],
                             enable_thinking=enable_thinking, add_generation_prompt=False)
                 for a, b in zip(starts, ends)]
    return pa.array(texts, pa.string())


def to_text(dataset, tokenizer, *, enable_thinking: bool = True, num_proc: int | None = None):
    """Add ``text``: each conversation rendered through the tokenizer's chat template (a training
    row: no generation prompt).

    ``enable_thinking`` is passed to the template; Qwen3's template reads it only when it adds a
    generation prompt, so for training rows both values give the same text (the last assistant
    turn always gets a ``<think>`` block, empty for chat rows). Rendering uses ``render_qwen3``
    when it reproduces this tokenizer's template on ``PROBES`` and on a sample of these rows, else
    ``render_chat`` (``tokenizer.apply_chat_template``) row by row. Rows the template cannot
    render (unknown role, None or non-string content, no turns) raise ``DataError``.
    ``num_proc`` > 1 renders in that many forked processes (``map_slices``).
    Introduced in 03_dataset_cleaning.
    """
    import pyarrow as pa

    require_columns(dataset, ["conversations"], hint="run reasoning_to_conversations / standardize_sharegpt first")
    _require_renderable(dataset)
    fast = uses_fast_template(tokenizer, enable_thinking) and set(_turn_fields(dataset)) == {"role", "content"}
    conversations = arrow_column(dataset, "conversations", combine=False)
    if fast and len(dataset):
        sample = conversations.take(np.linspace(0, len(dataset) - 1, num=min(16, len(dataset)), dtype=int))
        fast = _render_slice(sample, tokenizer=None, enable_thinking=enable_thinking).equals(
            _render_slice(sample, tokenizer=tokenizer, enable_thinking=enable_thinking))
    render = functools.partial(_render_slice, tokenizer=None if fast else tokenizer, enable_thinking=enable_thinking)
    texts = pa.chunked_array(map_slices(render, conversations, num_proc=num_proc), type=pa.string())
    fingerprint = _fingerprint(dataset._fingerprint, "to_text", tokenizer.chat_template, enable_thinking, fast)
    return _attach(dataset, {"text": texts}, fingerprint)


# -- 4. lengths, problems, policy ---------------------------------------------------------------------


_TOKENIZER_KEYS: dict[int, tuple[Any, str]] = {}


def _tokenizer_key(tokenizer) -> str:
    """A short hash of everything that decides the tokenizer's output (memoised per tokenizer)."""
    known = _TOKENIZER_KEYS.get(id(tokenizer))
    if known is None or known[0] is not tokenizer:
        backend = getattr(tokenizer, "backend_tokenizer", None)
        text = backend.to_str() if backend is not None else repr(getattr(tokenizer, "name_or_path", id(tokenizer)))
        known = _TOKENIZER_KEYS[id(tokenizer)] = (tokenizer, hashlib.sha256(text.encode()).hexdigest()[:16])
    return known[1]


def add_token_lengths(dataset, tokenizer, *, num_proc: int | None = None):
    """Add ``n_tokens``: the length of ``text`` in tokens, counted once and reused by the length
    check, the statistics, the histogram and the mix.

    Counted with ``count_tokens`` straight from the Arrow column (no ``map``: only the counts
    are new); ``num_proc`` > 1 splits the counting over that many forked processes.
    Introduced in 03_dataset_cleaning.
    """
    import pyarrow as pa

    require_columns(dataset, ["text"], hint="run to_text first")
    counts = count_tokens(arrow_column(dataset, "text", combine=False), tokenizer, num_proc=num_proc)
    fingerprint = _fingerprint(dataset._fingerprint, "add_token_lengths", _tokenizer_key(tokenizer))
    return _attach(dataset, {"n_tokens": pa.array(counts, pa.int64())}, fingerprint)


def drop_problem_rows(dataset, report: ValidationReport, kinds: tuple[str, ...] | None = None):
    """``dataset`` without the rows ``report`` found problems in (all kinds but ``too_long`` by
    default: length has its own policy). Introduced in 03_dataset_cleaning.
    """
    if report.n_rows != len(dataset):
        raise DataError(f"the report is about {report.n_rows} rows, the data set has {len(dataset)}: "
                        "validate this data set again")
    unknown = set(kinds or ()) - set(FIXES)
    if unknown:
        raise DataError(f"unknown problem kind(s) {sorted(unknown)}; known: {list(FIXES)}")
    bad = report.rows(*(kinds or [k for k in FIXES if k != "too_long"]))
    return dataset.select(np.setdiff1d(np.arange(len(dataset)), bad)) if bad else dataset


def apply_length_policy(dataset, *, max_seq_length: int, policy: str, tokenizer=None):
    """Rows longer than ``max_seq_length`` tokens (by ``n_tokens``), per ``policy`` (``cfg.length_policy``):

    * ``"report"``: keep them (``make_trainer`` cuts them to ``max_seq_length`` tokens);
    * ``"drop"``: remove them (the default: a cut reasoning row loses its answer);
    * ``"truncate"``: cut ``text`` after ``max_seq_length`` tokens (needs ``tokenizer``) and set
      ``n_tokens``; ``conversations`` keeps the full row, so it can be rendered again.

    Introduced in 03_dataset_cleaning.
    """
    require_columns(dataset, ["n_tokens", "text"], hint="run to_text and add_token_lengths first")
    if policy not in ("report", "drop", "truncate"):
        raise DataError(f"length_policy={policy!r} is not one of ['report', 'drop', 'truncate']")
    lengths = arrow_column(dataset, "n_tokens").to_numpy(zero_copy_only=False)
    over = lengths > max_seq_length
    if policy == "report" or not over.any():
        return dataset
    if policy == "drop":
        return dataset.select(np.flatnonzero(~over))
    if tokenizer is None:
        raise DataError("length_policy='truncate' needs the tokenizer: apply_length_policy(..., tokenizer=tokenizer)")
    fn = functools.partial(_truncate_batch, tokenizer=tokenizer, max_seq_length=max_seq_length)
    return _map_columns(dataset, fn, inputs=["text", "n_tokens"], name="truncate",
                        key=(_tokenizer_key(tokenizer), max_seq_length), num_proc=None, desc="truncate")


def _truncate_batch(batch, *, tokenizer, max_seq_length: int):
    import pyarrow as pa

    texts, lengths = batch.column("text").to_pylist(), batch.column("n_tokens").to_pylist()
    for i, n in enumerate(lengths):
        if n > max_seq_length:
            texts[i] = truncate_text(texts[i], tokenizer, max_seq_length)
            lengths[i] = int(count_tokens([texts[i]], tokenizer)[0])
    return pa.table({"text": pa.array(texts, pa.string()), "n_tokens": pa.array(lengths, pa.int64())})


def truncate_text(text: str, tokenizer, max_tokens: int) -> str:
    """The longest prefix of ``text`` that is at most ``max_tokens`` tokens, cut at a token boundary."""
    spans = tokenizer(text, return_offsets_mapping=True, add_special_tokens=False)["offset_mapping"]
    if len(spans) <= max_tokens:
        return text
    cut = text[:spans[max_tokens - 1][1]]
    if int(count_tokens([cut], tokenizer)[0]) > max_tokens:  # a character split across two tokens
        cut = text[:spans[max_tokens - 1][0]]
    return cut


# -- 5. the clean stage on disk ------------------------------------------------------------------------


def save_clean(reasoning, chat, cfg, *, inputs: dict | None = None, extra: dict | None = None,
               figures: dict[str, Any] | None = None) -> Path:
    """Write both cleaned sets to the "clean" stage (``reasoning/``, ``chat/``, ``manifest.json``,
    any ``figures`` as PNG), atomically; checks them first so nothing half-usable is written.
    Introduced in 03_dataset_cleaning.
    """
    for name, dataset in (("reasoning", reasoning), ("chat", chat)):
        require_columns(dataset, CLEAN_COLUMNS, hint=f"the {name} set is not cleaned yet (to_text, add_token_lengths)")
        if len(dataset) == 0:
            raise DataError(f"the cleaned {name} set has no rows left: look at the validation report")
        report = validate_conversations(dataset)
        if not report.ok:
            raise DataError(f"the {name} set still has problems; drop_problem_rows first:\n{report.summary(5)}")
    stats = length_stats({"reasoning": reasoning, "chat": chat}, max_seq_length=cfg.max_seq_length)
    final = stage_dir("clean")
    with atomic_dir(final) as tmp:
        reasoning.save_to_disk(str(tmp / "reasoning"))
        chat.save_to_disk(str(tmp / "chat"))
        for filename, figure in (figures or {}).items():
            figure.savefig(tmp / filename, dpi=100, bbox_inches="tight")
        write_manifest(tmp, what="cleaned reasoning and chat sets: conversations, Qwen3 template text, n_tokens",
                       cfg=cfg, inputs={"reasoning": f"{cfg.reasoning_dataset} ({cfg.reasoning_split})",
                                        "chat": f"{cfg.chat_dataset} ({cfg.chat_split})", **(inputs or {})},
                       extra={"rows": {"reasoning": len(reasoning), "chat": len(chat)},
                              "lengths": {k: {c: float(v) for c, v in row.items()}
                                          for k, row in stats.to_dict("index").items()},
                              "length_policy": cfg.length_policy, **(extra or {})})
    return final


def load_clean():
    """(reasoning, chat) as notebook 03 saved them; ``MissingArtifactError`` naming 03 if absent.

    Introduced in 04_sampling.
    """
    from datasets import load_from_disk

    path = require("clean")
    return load_from_disk(str(path / "reasoning")), load_from_disk(str(path / "chat"))


def load_tokenizer(cfg):
    """The tokenizer of ``cfg``'s model, without loading the model (left padding, as ``load_model``).

    Introduced in 03_dataset_cleaning.
    """
    from transformers import AutoTokenizer

    from ..model import model_source

    tokenizer = AutoTokenizer.from_pretrained(model_source(cfg))
    tokenizer.padding_side = "left"
    return tokenizer


__all__ = ["CLEAN_COLUMNS", "PROBES", "ROLES", "ROLE_ALIASES", "add_token_lengths", "apply_length_policy",
           "drop_problem_rows", "load_clean", "load_tokenizer", "reasoning_to_conversations", "render_qwen3",
           "role_counts", "save_clean", "standardize_sharegpt", "to_text", "truncate_text", "uses_fast_template"]
