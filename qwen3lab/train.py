"""Checks and tables around TRL's ``SFTTrainer``: which tokens the loss covers, rows with nothing to
learn, a fixed-rows loss yardstick, the log as a table, checkpoints, and an interruption to resume
from. The trainer itself (``SFTConfig``, ``SFTTrainer``, ``train_on_responses_only``,
``trainer.train()``) is built in notebook 05's cells.

Introduced in 05_lora_training.
"""

from __future__ import annotations

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


def trained_tokens(dataset) -> list[int]:
    """How many tokens of each row the loss covers (labels other than -100). Introduced in 05_lora_training."""
    if "labels" not in dataset.column_names:
        raise KeyError(f"the data set has no 'labels' column (columns: {dataset.column_names}): call "
                       "train_on_responses_only(trainer, ...) first, it writes them")
    return [sum(label != IGNORE_INDEX for label in labels) for labels in dataset["labels"]]


def require_trainable(trainer) -> dict[str, int]:
    """Check that the trainer's rows have tokens to learn from; drop the rows that have none.

    Raises ``NoTrainableTokensError`` when no row has one (a prompt without a reply, or replies cut
    off by ``max_seq_length``): training would average the loss over zero tokens, a NaN or a silent
    0, for the whole run. Returns the counts: rows, rows dropped, trained tokens.
    Introduced in 05_lora_training.
    """
    counts = trained_tokens(trainer.train_dataset)
    empty = [i for i, n in enumerate(counts) if n == 0]
    if len(empty) == len(counts):
        raise NoTrainableTokensError(
            f"all {len(counts)} rows have every label masked: no assistant reply follows {RESPONSE_PART!r} in any "
            "of them. The `text` column must be whole conversations rendered with Qwen3's chat template (notebook "
            "04 writes them), and max_seq_length must not cut the replies off.")
    if empty:
        print(f"dropping {len(empty)} of {len(counts)} rows with no trained token (rows {empty[:10]}"
              f"{' ...' if len(empty) > 10 else ''})")
        keep = sorted(set(range(len(counts))) - set(empty))
        trainer.train_dataset = trainer.train_dataset.select(keep)
    return {"rows": len(counts) - len(empty), "dropped": len(empty), "trained_tokens": sum(counts),
            "tokens": sum(len(ids) for ids in trainer.train_dataset["input_ids"])}


def masked_example(trainer, index: int = 0) -> dict[str, Any]:
    """Row ``index`` of the trainer's data: its text, the part the loss covers, and the row as
    ``spans``: (trained, text) pieces in order. Introduced in 05_lora_training."""
    row = trainer.train_dataset[index]
    tokenizer = trainer.processing_class
    labels = row.get("labels") or row["input_ids"]
    trained = [label != IGNORE_INDEX for label in labels]
    spans: list[tuple[bool, list[int]]] = []
    for token, keep in zip(row["input_ids"], trained):
        if spans and spans[-1][0] == keep:
            spans[-1][1].append(token)
        else:
            spans.append((keep, [token]))
    kept = [token for token, keep in zip(row["input_ids"], trained) if keep]
    return {"text": tokenizer.decode(row["input_ids"]), "trained": tokenizer.decode(kept),
            "tokens": len(row["input_ids"]), "trained_tokens": len(kept),
            "spans": [(keep, tokenizer.decode(ids)) for keep, ids in spans]}


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

    Introduced in 05_lora_training.
    """
    import statistics

    losses = [value for _, value in logged(log_history, "loss")]
    if len(losses) < 2 * window:
        raise ValueError(f"only {len(losses)} losses were logged; need {2 * window} (logging_steps too large?)")
    first, last = statistics.fmean(losses[:window]), statistics.fmean(losses[-window:])
    return {"first": first, "last": last, "drop": first - last, "noise": statistics.pstdev(losses[-window:])}


#: What each logged metric means and the range it is healthy in (the source's table, with ranges).
METRICS = {
    "loss": "cross-entropy on the trained tokens; should fall (ln 151,936 = 11.93 is a uniform guess)",
    "grad_norm": "norm of the gradient; 0.01-1.0 is healthy, >10 is exploding, <1e-4 is vanishing",
    "learning_rate": "rises linearly over warmup_steps, then falls linearly to 0",
    "num_tokens": "tokens seen so far (TRL counts every input token, padding excluded)",
    "epoch": "passes over the training set so far",
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


__all__ = ["INSTRUCTION_PART", "METRICS", "NoTrainableTokensError", "RESPONSE_PART", "checkpoints", "log_table",
           "logged", "loss_summary", "masked_example", "require_trainable", "rows_loss", "stop_after",
           "trained_tokens"]
