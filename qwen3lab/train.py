"""Checks and tables around TRL's ``SFTTrainer``: which tokens the loss covers, rows with nothing to
learn, a fixed-rows loss yardstick, the log as a table, checkpoints (and the last whole one to
resume from), and an interruption to resume from. The trainer itself (``SFTConfig``,
``SFTTrainer``, ``train_on_responses_only``, ``trainer.train()``) is built in notebook 05's cells.

Introduced in 05_lora_training.
"""

from __future__ import annotations

from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

#: Where a user turn and an assistant turn start in Qwen3's template (the source tutorial's strings,
#: the arguments of Unsloth's ``train_on_responses_only``).
INSTRUCTION_PART = "<|im_start|>user\n"
RESPONSE_PART = "<|im_start|>assistant\n"
IGNORE_INDEX = -100


class NoTrainableTokensError(ValueError):
    """A data set in which every label is masked: the loss would be a mean over zero tokens."""


def _flat(dataset, column: str):
    """A column of token lists as one numpy array of all its values and the rows' offsets into it
    (n + 1 of them), read through Arrow: no Python list per row."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    lists = dataset.with_format("arrow")[column]  # the rows in the data set's order (select, shuffle)
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    lengths = np.asarray(pc.list_value_length(lists).fill_null(0), dtype=np.int64)
    return np.asarray(lists.flatten()), np.concatenate([[0], np.cumsum(lengths)])


def _running(mask):
    """How many of ``mask``'s values are true before each position (one more value than ``mask``)."""
    import numpy as np

    return np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])


def _per_row(mask, offsets):
    """How many values of each row (``offsets`` from ``_flat``) ``mask`` holds."""
    total = _running(mask)
    return total[offsets[1:]] - total[offsets[:-1]]


def _member(ids, values):
    """``np.isin(ids, values)`` through a table over the vocabulary: one lookup per token."""
    import numpy as np

    table = np.zeros(max(int(ids.max(initial=0)), max(values, default=0)) + 1, dtype=bool)
    table[np.fromiter(values, dtype=np.int64)] = True
    return table[ids]


def _require_labels(dataset) -> None:
    if "labels" not in dataset.column_names:
        raise KeyError(f"the data set has no 'labels' column (columns: {dataset.column_names}): call "
                       "train_on_responses_only(trainer, ...) first, it writes them")


def trained_tokens(dataset) -> list[int]:
    """How many tokens of each row the loss covers (labels other than -100). Introduced in 05_lora_training."""
    _require_labels(dataset)
    labels, offsets = _flat(dataset, "labels")
    return _per_row(labels != IGNORE_INDEX, offsets).tolist()


#: The end of Qwen3's generation prompt with thinking off: an empty think block, which the template
#: writes before every last reply. Trained alone, it teaches nothing: it is not an answer.
EMPTY_THINK = "<think>\n\n</think>\n\n"
_THINK_TAGS = ("<think>", "</think>")


def _not_answer_ids(tokenizer) -> set[int]:
    """Ids that cannot make a row an answer on their own: special tokens (``<|im_end|>``, which TRL also
    appends to a text that does not end in it) and the think tags."""
    special = {i for i, token in tokenizer.added_tokens_decoder.items() if token.special}
    tags = {tokenizer.convert_tokens_to_ids(tag) for tag in _THINK_TAGS}
    return special | {i for i in tags if i is not None and i != tokenizer.unk_token_id}


def _answer_rows(dataset, tokenizer):
    """Per row, as numpy arrays: whether its trained tokens (labels other than -100) hold part of an
    answer (a token not in ``_not_answer_ids`` and not only whitespace), how many tokens it trains on,
    and how many it has. (A prompt without a reply still trains on the empty think block and the
    ``<|im_end|>`` TRL appends: a loss over some tokens that teaches no answer.)
    """
    import numpy as np

    ids, offsets = _flat(dataset, "input_ids")
    labels, label_offsets = _flat(dataset, "labels")
    if not np.array_equal(offsets, label_offsets):
        raise ValueError("the data set's input_ids and labels differ in length in some row: re-run "
                         "train_on_responses_only(trainer, ...) on the trainer that tokenized it")
    trained = labels != IGNORE_INDEX
    answers = trained & ~_member(ids, _not_answer_ids(tokenizer))
    # whitespace alone (the newlines after </think>) is no answer either. Only each row's first
    # remaining token is decoded; where that is whitespace, the token is struck everywhere and the
    # rows looked at again (a few rounds: few tokens are only whitespace)
    decoded: set[int] = set()
    while True:
        total = _running(answers)
        before, in_row = total[offsets[:-1]], total[offsets[1:]] - total[offsets[:-1]]
        firsts = np.unique(ids[np.searchsorted(total, before[in_row > 0] + 1) - 1]).tolist()
        blank = [t for t in firsts if t not in decoded and tokenizer.decode([t]).strip() == ""]
        decoded.update(firsts)
        if not blank:
            return in_row > 0, _per_row(trained, offsets), np.diff(offsets)
        answers &= ~_member(ids, blank)


def drop_untrainable_rows(trainer) -> dict[str, int]:
    """Check that the trainer's rows have an answer to learn from; drop the rows that have none.

    Raises ``NoTrainableTokensError`` when no row has one: every label masked (replies cut off by
    ``max_seq_length``, or text without an assistant turn), or the trained part only the template's
    empty think block and end-of-turn tokens (prompts with no reply). Training would average the
    loss over zero tokens (a NaN or a silent 0) or teach only to close an empty turn. Returns the
    counts of the rows kept: rows, rows dropped, trained tokens, tokens. Introduced in 05_lora_training.
    """
    import numpy as np

    dataset = trainer.train_dataset
    _require_labels(dataset)
    has_answer, counts, lengths = _answer_rows(dataset, trainer.processing_class)
    empty = np.flatnonzero(~has_answer).tolist()
    if len(empty) == len(counts):
        raise NoTrainableTokensError(
            f"all {len(counts)} rows have no answer to train on: every label is masked, or the trained part is only "
            f"the template's empty think block {EMPTY_THINK!r} and end-of-turn tokens (a prompt with no reply after "
            f"{RESPONSE_PART!r}). The `text` column must be whole conversations rendered with Qwen3's chat template "
            "(notebook 04 writes them), and max_seq_length must not cut the replies off.")
    if empty:
        print(f"dropping {len(empty)} of {len(counts)} rows with no answer to train on (rows {empty[:10]}"
              f"{' ...' if len(empty) > 10 else ''})")
        trainer.train_dataset = dataset.select(np.flatnonzero(has_answer).tolist())
    return {"rows": int(has_answer.sum()), "dropped": len(empty), "trained_tokens": int(counts[has_answer].sum()),
            "tokens": int(lengths[has_answer].sum())}


def label_spans(tokenizer, input_ids: list[int], labels: list[int]) -> list[tuple[bool, str]]:
    """A tokenized row as (trained, text) pieces in order: runs of tokens whose label is, or is not,
    -100, each decoded. Introduced in 03_dataset_cleaning (its row browser) and 05_lora_training."""
    runs = groupby(zip(input_ids, labels), key=lambda pair: int(pair[1]) != IGNORE_INDEX)
    return [(keep, tokenizer.decode([token for token, _ in run])) for keep, run in runs]


def masked_example(trainer, index: int = 0) -> dict[str, Any]:
    """Row ``index`` of the trainer's data: its text, the part the loss covers, and the row as
    ``spans``: (trained, text) pieces in order. Introduced in 05_lora_training."""
    row = trainer.train_dataset[index]
    tokenizer = trainer.processing_class
    labels = row.get("labels") or row["input_ids"]
    kept = [token for token, label in zip(row["input_ids"], labels) if label != IGNORE_INDEX]
    return {"text": tokenizer.decode(row["input_ids"]), "trained": tokenizer.decode(kept),
            "tokens": len(row["input_ids"]), "trained_tokens": len(kept),
            "spans": label_spans(tokenizer, row["input_ids"], labels)}


def rows_loss(trainer, rows: int = 4) -> float:
    """The mean loss, over trained tokens, of the first ``rows`` rows of the trainer's data, without
    gradients: a fixed yardstick to compare before and after training, free of the step-to-step
    noise of ever different batches. One row at a time (no padding). Introduced in 05_lora_training.
    """
    import torch

    model, dataset = trainer.model, trainer.train_dataset
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for row in dataset.select(range(min(rows, len(dataset)))):
            ids = torch.tensor([row["input_ids"]], device=model.device)
            labels = torch.tensor([row.get("labels") or row["input_ids"]], device=model.device)
            n = int((labels[:, 1:] != IGNORE_INDEX).sum())
            total += float(model(input_ids=ids, labels=labels, use_cache=False).loss) * n
            count += n
    if was_training:
        model.train()
    return total / count


def logged(log_history: list[dict[str, Any]], key: str) -> list[tuple[int, float]]:
    """(step, value) pairs of one logged quantity (``loss``, ``grad_norm``, ``learning_rate``, ``epoch``).
    Introduced in 05_lora_training."""
    return [(entry["step"], float(entry[key])) for entry in log_history if key in entry and "step" in entry]


def loss_summary(log_history: list[dict[str, Any]], window: int = 5) -> dict[str, float]:
    """How far the loss fell: the mean of the first and last ``window`` logged losses, their
    difference, and the spread (standard deviation) of the last ones, i.e. the step-to-step noise.
    Introduced in 05_lora_training."""
    import statistics

    losses = [value for _, value in logged(log_history, "loss")]
    if len(losses) < 2 * window:
        raise ValueError(f"only {len(losses)} losses were logged; need {2 * window} (logging_steps too large?)")
    first, last = statistics.fmean(losses[:window]), statistics.fmean(losses[-window:])
    return {"first": first, "last": last, "drop": first - last, "noise": statistics.pstdev(losses[-window:])}


#: What the trainer logs each step, as a learner reads it: the key in ``trainer.state.log_history``,
#: the name SwanLab shows, what it is, and what to watch for. Introduced in 05_lora_training.
METRICS = {
    "loss": ("train/loss", "计入损失的 token 上的交叉熵",
             "应当下降；随机权重时约为 ln 151,936 = 11.93（均匀猜测）；降到接近 0 多半是过拟合"),
    "grad_norm": ("train/grad_norm", "梯度的范数，记的是裁剪（max_grad_norm = 1.0）之前的值",
                  "0.01 到 1 常见；偶尔一个尖峰无妨，持续大于 10 或出现 NaN 是发散，小于 1e-4 是梯度消失"),
    "learning_rate": ("train/learning_rate", "这一步用的学习率",
                      "前 warmup_steps 步线性升到 learning_rate，之后线性降到 0"),
    "epoch": ("train/epoch", "已经过了几遍训练集（可以是小数）",
              "30 步 × 8 条远不到一遍：full 配置档约 0.003 遍"),
    "step": ("train/global_step", "优化器更新了几次（每次用 batch × 累积步数条样本）",
             "到 max_steps 结束；曲线的横轴"),
    "num_tokens": ("train/num_tokens", "到这一步为止送进模型的 token 数（TRL 计数，不含填充）",
                   "每步的增量就是这一步的 token 数"),
}


def log_table(log_history: list[dict[str, Any]]) -> "pd.DataFrame":
    """The trainer's per-step log as a table indexed by global step. Introduced in 05_lora_training."""
    import pandas as pd

    rows = [{k: v for k, v in entry.items() if k != "step"} | {"step": entry["step"]}
            for entry in log_history if "loss" in entry]
    return pd.DataFrame(rows).set_index("step")


def checkpoints(output_dir: str | Path) -> list[Path]:
    """The ``checkpoint-<step>`` folders of a run, in step order. Introduced in 05_lora_training."""
    found = [p for p in Path(output_dir).glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return sorted(found, key=lambda p: int(p.name.split("-")[-1]))


def stop_after(step: int):
    """A ``TrainerCallback`` that ends training after global step ``step`` (once that step's
    checkpoint, if due, is saved): an interruption, to show how a run resumes. The learning-rate
    schedule still runs to ``max_steps``, so the resumed run continues it exactly.
    Introduced in 05_lora_training."""
    from transformers import TrainerCallback

    class StopAfter(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step >= step:
                control.should_training_stop = True
            return control

    return StopAfter()


__all__ = ["EMPTY_THINK", "INSTRUCTION_PART", "METRICS", "NoTrainableTokensError", "RESPONSE_PART", "checkpoints",
           "label_spans", "log_table", "logged", "loss_summary", "masked_example",
           "drop_untrainable_rows", "rows_loss", "stop_after", "trained_tokens"]
