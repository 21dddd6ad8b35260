"""LoRA on the model, the trainer and the run: response-only loss, SwanLab, memory, resuming.

The recipe is the source tutorial's (TRL ``SFTTrainer`` with its ``SFTConfig`` values, read from
``cfg``); what differs between Unsloth and transformers + PEFT, or between a GPU and a CPU, is
asked of ``backend``. Everything a run writes goes under the artifacts root: checkpoints and plots
in ``stage_dir("run")``, SwanLab's files in ``stage_dir("swanlog")``.

Introduced in 05_lora_training.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import backend
from .artifacts import stage_dir
from .config import Config
from .model import lora_target_modules
from .recipe import apply_recipe, fit_recipe, free_gpu_bytes

if TYPE_CHECKING:
    import pandas as pd

#: Where a user turn and an assistant turn start in Qwen3's template (the source tutorial's strings).
INSTRUCTION_PART = "<|im_start|>user\n"
RESPONSE_PART = "<|im_start|>assistant\n"

SWANLAB_PROJECT_ENV = "SWANLAB_PROJECT"
DEFAULT_SWANLAB_PROJECT = "qwen3lab"

#: Which input and output size each Qwen3 projection has, as names of config fields.
_PROJECTIONS = {
    "q_proj": ("hidden_size", "q_width"), "k_proj": ("hidden_size", "kv_width"),
    "v_proj": ("hidden_size", "kv_width"), "o_proj": ("q_width", "hidden_size"),
    "gate_proj": ("hidden_size", "intermediate_size"), "up_proj": ("hidden_size", "intermediate_size"),
    "down_proj": ("intermediate_size", "hidden_size"),
}


class NoTrainableTokensError(ValueError):
    """A data set or a batch in which every label is masked: there is nothing to learn from."""


# -- LoRA ----------------------------------------------------------------------------------------


def add_lora(model, cfg: Config):
    """Attach LoRA adapters (rank ``cfg.r``) to ``cfg.target_modules``, or to every linear layer of
    the decoder when that is None. Introduced in 05_lora_training.

    With ``cfg.auto_recipe`` on a GPU, gradient checkpointing follows the recipe fitted to the free
    memory (``recipe.fit_recipe``); the recipe is kept on the model for ``make_trainer``. With
    ``cfg.fused_lora``, each LoRA layer on a 4-bit weight trains as one operator
    (``fused_lora.qlora_linear``); ``fused_lora.installed(model)`` counts them.
    """
    recipe = fit_recipe(cfg, free_gpu_bytes(), getattr(model, "config", None))
    targets = list(cfg.target_modules) if cfg.target_modules else lora_target_modules(model)
    model = backend.get_peft_model(model, apply_recipe(cfg, recipe), targets)
    model._qwen3lab_recipe = recipe
    if cfg.fused_lora:
        from . import fused_lora

        fused_lora.install(model)
    return model


def _field(config: Any, name: str) -> int:
    value = config.get(name) if isinstance(config, Mapping) else getattr(config, name, None)
    if value is None:
        raise KeyError(f"the model config has no {name!r}")
    return int(value)


def projection_shapes(model_config: Any) -> dict[str, tuple[int, int]]:
    """(in_features, out_features) of each Qwen3 projection, from a config object or dict.

    Introduced in 05_lora_training.
    """
    heads, kv_heads = _field(model_config, "num_attention_heads"), _field(model_config, "num_key_value_heads")
    try:
        head_dim = _field(model_config, "head_dim")
    except KeyError:
        head_dim = _field(model_config, "hidden_size") // heads
    sizes = {"hidden_size": _field(model_config, "hidden_size"),
             "intermediate_size": _field(model_config, "intermediate_size"),
             "q_width": heads * head_dim, "kv_width": kv_heads * head_dim}
    return {name: (sizes[i], sizes[o]) for name, (i, o) in _PROJECTIONS.items()}


def expected_lora_parameters(model_config: Any, r: int, target_modules: list[str]) -> int:
    """LoRA's trainable parameters by the formula: per layer, ``r * (in + out)`` for each target.

    ``A`` is ``r x in`` and ``B`` is ``out x r``. For Qwen3-8B at r=32 on all seven projections this
    is 87,293,952. Introduced in 05_lora_training.
    """
    shapes = projection_shapes(model_config)
    unknown = sorted(set(target_modules) - set(shapes))
    if unknown:
        raise KeyError(f"no shape known for {unknown}; known projections: {sorted(shapes)}")
    per_layer = sum(r * sum(shapes[name]) for name in target_modules)
    return per_layer * _field(model_config, "num_hidden_layers")


def trainable_parameters(model) -> tuple[int, int]:
    """(trainable, total) parameters as PEFT counts them (a 4-bit weight counts as one parameter).

    Introduced in 05_lora_training.
    """
    return model.get_nb_trainable_parameters()


# -- the trainer -----------------------------------------------------------------------------------


def tokenize_text(dataset, tokenizer, text_field: str = "text", max_length: int | None = None):
    """A data set of ``input_ids`` only: ``text_field`` tokenized as written, in this process, each
    row cut to its first ``max_length`` tokens.

    Done here rather than by TRL because ``Dataset.map`` fingerprints its function's arguments,
    and hashing a 151k-token tokenizer took 10 s on a 2-core CPU. The rendered text already holds
    every special token, so none are added. The cut is done here too: TRL cuts rows at
    ``max_length`` only when it tokenizes them itself, and Unsloth's GPU trainer leaves
    pre-tokenized rows whole in padded batches (the GPU machine fed ``[2, 8525]`` batches at
    ``max_seq_length`` 8192), where Unsloth's forward then cuts ``input_ids`` but not the labels.
    Rows that notebook 03's length policy kept (``"report"``) are the ones cut. Introduced in
    05_lora_training.
    """
    from datasets import Dataset

    if text_field not in dataset.column_names:
        raise KeyError(f"the data set has no {text_field!r} column (columns: {dataset.column_names}); "
                       "notebook 04 writes it (q.load_mixed())")
    ids = tokenizer(list(dataset[text_field]), add_special_tokens=False)["input_ids"]
    if max_length is not None:
        cut = sum(len(row) > max_length for row in ids)
        if cut:
            print(f"cut {cut} of {len(ids)} rows to their first {max_length} tokens (max_seq_length); "
                  "cfg.length_policy='drop' removes such rows in notebook 03 instead")
            ids = [row[:max_length] for row in ids]
    return Dataset.from_dict({"input_ids": ids})


def sft_config(cfg: Config, output_dir: str | Path, *, report_to: str, **overrides: Any):
    """TRL's ``SFTConfig`` with the recipe from ``cfg`` and the machine's settings from ``backend``.

    Introduced in 05_lora_training.
    """
    from trl import SFTConfig

    recipe = {name: getattr(cfg, name) for name in (
        "per_device_train_batch_size", "gradient_accumulation_steps", "warmup_steps", "max_steps",
        "learning_rate", "logging_steps", "optim", "weight_decay", "lr_scheduler_type", "seed", "save_steps")}
    if cfg.padding_free is not None:
        recipe["padding_free"] = cfg.padding_free
    if cfg.pad_to_multiple_of is not None:
        recipe["pad_to_multiple_of"] = cfg.pad_to_multiple_of
    values = {"output_dir": str(output_dir), "max_length": cfg.max_seq_length, "save_strategy": "steps",
              "report_to": report_to, "run_name": run_name(cfg), **recipe, **backend.sft_backend_args(cfg)}
    return SFTConfig(**{**values, **overrides})


def run_name(cfg: Config) -> str:
    """A short name for the run (SwanLab's experiment name)."""
    return f"{cfg.profile}-r{cfg.r}-lr{cfg.learning_rate:g}-{cfg.max_steps}steps"


def make_trainer(model, tokenizer, dataset, cfg: Config, *, output_dir: str | Path | None = None, **overrides: Any):
    """An ``SFTTrainer`` for ``dataset``'s ``text`` column whose loss covers the assistant's tokens only.

    The batch and checkpointing recipe is ``cfg``'s, or, with ``cfg.auto_recipe`` on a GPU, the one
    fitted to the card (``trainer.qwen3lab_recipe`` says which and why).
    Checkpoints go to ``output_dir`` (default ``stage_dir("run")``) every ``cfg.save_steps``. Raises
    ``NoTrainableTokensError`` if no row keeps a trainable token; rows without one are dropped.
    Introduced in 05_lora_training.
    """
    from trl import SFTTrainer

    recipe = getattr(model, "_qwen3lab_recipe", None) or fit_recipe(cfg, free_gpu_bytes(), model.config)
    cfg = apply_recipe(cfg, recipe)
    output_dir = Path(output_dir) if output_dir else stage_dir("run")
    report_to = overrides.pop("report_to", None) or swanlab_report_to(cfg)
    args = sft_config(cfg, output_dir, report_to=report_to, **overrides)
    tokenized = tokenize_text(dataset, tokenizer, max_length=cfg.max_seq_length)
    require_responses(tokenized, tokenizer)
    trainer = SFTTrainer(model=model, processing_class=tokenizer, args=args, train_dataset=tokenized)
    backend.keep_cpu_adapters_float32(model)
    trainer = backend.train_on_responses_only(trainer, cfg, instruction_part=INSTRUCTION_PART,
                                              response_part=RESPONSE_PART)
    trainer.train_dataset = require_trainable(trainer.train_dataset)
    trainer.data_collator = TrainableBatches(trainer.data_collator)
    if recipe.padding_free and backend.resolve_backend(cfg) == backend.UNSLOTH:
        backend.compile_varlen_dynamic()
        standard_strides_per_pass(trainer)
    if recipe.keep_dequantized:
        trainer.add_callback(_kept_dequantized_while_training(model, fp8=recipe.fp8_frozen))
    trainer.qwen3lab_recipe = recipe.to_dict()
    return trainer


def _kept_dequantized_while_training(model, fp8: bool = False):
    """A callback that keeps ``model``'s frozen 4-bit weights dequantized (in FP8 with ``fp8``) from
    the start of ``trainer.train()`` to its end (``fused_lora.keep_dequantized``), so generation and
    saving afterwards have that memory back."""
    from transformers import TrainerCallback

    from . import fused_lora

    class KeptDequantized(TrainerCallback):
        def on_train_begin(self, *_, **__):
            fused_lora.keep_dequantized(model, fp8=fp8)

        def on_train_end(self, *_, **__):
            fused_lora.release_dequantized(model)

    return KeptDequantized()


def standard_strides(inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    """``inputs`` with every tensor laid out in standard (row-major) strides; the others as they are.

    A tensor that already has them is kept, not copied; a ``dict`` is updated in place, another
    mapping is returned as a new ``dict``. Introduced in 05_lora_training.
    """
    import torch

    changed = {}
    for key, value in inputs.items():
        if isinstance(value, torch.Tensor) and value.dim() > 1:
            expected, size = [], 1
            for n in reversed(value.shape):
                expected.insert(0, size)
                size *= n
            if list(value.stride()) != expected:
                changed[key] = value.clone(memory_format=torch.contiguous_format)
    if not changed:
        return inputs
    out = dict(inputs) if not isinstance(inputs, dict) else inputs
    out.update(changed)
    return out


def standard_strides_per_pass(trainer) -> None:
    """Give each pass of a step its tensors in standard strides (``standard_strides``).

    Unsloth's token budget splits a padding-free step into passes by slicing its ``[1, T]``
    tensors, and a slice keeps the whole step's row stride T. torch.compile guards on that stride,
    so the first split step recompiled the model (7 to 10 s on an H100 at max_seq_length 8192).
    Copying a pass's ids, labels and positions (a few KB) avoids it. Introduced in 05_lora_training.
    """
    prepare = trainer._prepare_inputs
    trainer._prepare_inputs = lambda inputs: standard_strides(prepare(inputs))


def require_responses(tokenized, tokenizer) -> None:
    """``NoTrainableTokensError`` unless some row holds an assistant reply to train on.

    Checked before the trainer is built, the same way on both backends (Unsloth's masking would
    raise its own error). Stops at the first row that has one. Introduced in 05_lora_training.
    """
    response_ids = tokenizer(RESPONSE_PART, add_special_tokens=False)["input_ids"]
    for ids in tokenized["input_ids"]:
        if any(label != -100 for label in backend.response_only_labels(ids, response_ids, tokenizer.eos_token_id)):
            return
    raise NoTrainableTokensError(
        f"none of the {len(tokenized)} rows has an assistant reply (nothing follows {RESPONSE_PART!r}), so the "
        "loss would cover no token. The `text` column must be full conversations rendered with Qwen3's chat "
        "template, as notebook 04 writes them (q.load_mixed()).")


def require_trainable(dataset):
    """``dataset`` without rows whose labels are all masked; ``NoTrainableTokensError`` if none is left.

    Introduced in 05_lora_training.
    """
    keep = [i for i, labels in enumerate(dataset["labels"]) if any(label != -100 for label in labels)]
    if not keep:
        raise NoTrainableTokensError(
            f"all {len(dataset)} rows have every label masked: no assistant reply was found after "
            f"{RESPONSE_PART!r}. Check that the `text` column is rendered with Qwen3's chat template "
            "(re-run notebook 04) and that max_seq_length does not cut the replies off.")
    if len(keep) < len(dataset):
        print(f"dropped {len(dataset) - len(keep)} of {len(dataset)} rows with no trainable token")
        dataset = dataset.select(keep)
    return dataset


class TrainableBatches:
    """Wraps a data collator; a batch whose labels are all -100 raises instead of training on nothing.

    (A mean over zero tokens is 0/0: NaN, or a silent zero loss.) Introduced in 05_lora_training.
    """

    def __init__(self, collator):
        self.collator = collator

    def __call__(self, examples):
        batch = self.collator(examples)
        if not bool((batch["labels"] != -100).any()):
            raise NoTrainableTokensError(
                f"a batch of {len(examples)} rows has no trainable label (all -100): every assistant reply "
                "is masked or truncated away. Check the data set with q.require_trainable().")
        return batch

    def __getattr__(self, name):  # the trainer reads attributes of its collator
        return getattr(self.collator, name)


def masked_example(trainer, index: int = 0) -> dict[str, Any]:
    """Row ``index`` of the trainer's data: its text, the part the loss is computed on, and the row
    as ``spans``: (trained, text) pieces in order. Introduced in 05_lora_training."""
    row = trainer.train_dataset[index]
    tokenizer = trainer.processing_class
    trained = [label != -100 for label in row["labels"]]
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


# -- SwanLab ---------------------------------------------------------------------------------------


def swanlab_report_to(cfg: Config) -> str:
    """``"swanlab"`` when the config asks for it and SwanLab is installed, else ``"none"`` (with a note)."""
    if cfg.report_to != "swanlab" or cfg.swanlab_mode == "disabled":
        return "none" if cfg.report_to == "swanlab" else cfg.report_to
    import importlib.util

    if importlib.util.find_spec("swanlab") is None:
        print("SwanLab is not installed: training without tracking (`pip install swanlab` to add it).")
        return "none"
    return "swanlab"


@contextlib.contextmanager
def _without_env(name: str) -> Iterator[None]:
    value = os.environ.pop(name, None)
    try:
        yield
    finally:
        if value is not None:
            os.environ[name] = value


def start_swanlab(cfg: Config, name: str | None = None) -> Path | None:
    """Start the SwanLab run that ``report_to="swanlab"`` logs into; its folder, or None if it could not start.

    transformers' callback alone fails with swanlab 0.10.3 (``No active Run. Call swanlab.init()
    first.``), so the run is started here. Cloud mode needs ``swanlab login`` (or
    ``SWANLAB_API_KEY``); without it the run is logged offline, to upload later with
    ``swanlab sync``. The project is ``$SWANLAB_PROJECT`` or "qwen3lab"; the variable is hidden
    from swanlab 0.10.3 while it starts, because its settings parse it as JSON and fail.
    Introduced in 05_lora_training.
    """
    import swanlab

    log_dir = stage_dir("swanlog")
    log_dir.mkdir(parents=True, exist_ok=True)
    project = os.environ.get(SWANLAB_PROJECT_ENV) or DEFAULT_SWANLAB_PROJECT
    modes = [cfg.swanlab_mode] + (["offline"] if cfg.swanlab_mode in ("cloud", "online") else [])
    for mode in modes:
        try:
            with _without_env(SWANLAB_PROJECT_ENV):
                swanlab.init(project=project, mode=mode, log_dir=str(log_dir), name=name or run_name(cfg),
                             settings=swanlab.Settings(interactive=False))
            return log_dir
        except Exception as exc:  # not logged in, unreachable, a broken install: train anyway
            why = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            nxt = "logging offline instead (`swanlab login`, then `swanlab sync <run folder>` to upload)" \
                if mode != modes[-1] else "training without tracking"
            print(f"SwanLab could not start in {mode!r} mode ({why}); {nxt}.")
    return None


def finish_swanlab() -> None:
    """End the SwanLab run, if one is active. Introduced in 05_lora_training."""
    with contextlib.suppress(Exception):
        import swanlab

        swanlab.finish()


def _drop_swanlab_callback(trainer) -> None:
    from transformers.integrations import SwanLabCallback

    trainer.remove_callback(SwanLabCallback)


# -- the run -----------------------------------------------------------------------------------------


def stop_after(step: int):
    """A ``TrainerCallback`` that ends training after global step ``step`` (once that step's
    checkpoint, if due, is saved): an interruption, to show how a run resumes. Introduced in 05_lora_training."""
    from transformers import TrainerCallback

    class StopAfter(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step >= step:
                control.should_training_stop = True
            return control

    return StopAfter()


def train(trainer, cfg: Config, *, resume_from_checkpoint: str | Path | bool | None = None,
          stop_at: int | None = None) -> dict[str, Any]:
    """Run ``trainer.train()`` with SwanLab around it; time, memory and loss before and after.

    ``resume_from_checkpoint``: a checkpoint folder, or True for the last one in the output folder.
    ``stop_at``: end the run after this global step, as if it were interrupted there (the
    learning-rate schedule still runs to ``max_steps``, so a resumed run continues it exactly).
    Returns ``{"seconds", "steps", "first_loss", "last_loss", "memory_before", "memory_after",
    "swanlog"}``. Introduced in 05_lora_training.
    """
    if stop_at is not None:
        trainer.add_callback(stop_after(stop_at))
    if not resume_from_checkpoint:
        clear_checkpoints(trainer.args.output_dir)
    swanlog = None
    if "swanlab" in (trainer.args.report_to or []):
        swanlog = start_swanlab(cfg)
        if swanlog is None:
            _drop_swanlab_callback(trainer)
    backend.reset_peak_memory()
    before = backend.memory_stats()
    start = time.perf_counter()
    try:
        trainer.train(resume_from_checkpoint=str(resume_from_checkpoint) if isinstance(resume_from_checkpoint, Path)
                      else resume_from_checkpoint)
    finally:
        if swanlog is not None:
            finish_swanlab()
    losses = logged(trainer.state.log_history, "loss")
    return {"seconds": round(time.perf_counter() - start, 2), "steps": trainer.state.global_step,
            "first_loss": losses[0][1] if losses else None, "last_loss": losses[-1][1] if losses else None,
            "memory_before": before, "memory_after": backend.memory_stats(), "swanlog": swanlog}


def logged(log_history: list[dict[str, Any]], key: str) -> list[tuple[int, float]]:
    """(step, value) pairs of one logged quantity (``loss``, ``grad_norm``, ``learning_rate``, ``epoch``)."""
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
            labels = torch.tensor([row["labels"]], device=model.device)
            n = int((labels[:, 1:] != -100).sum())
            total += float(model(input_ids=ids, labels=labels, use_cache=False).loss) * n
            count += n
    if was_training:
        model.train()
    return total / count


def log_table(log_history: list[dict[str, Any]]) -> "pd.DataFrame":
    """The trainer's per-step log as a table indexed by global step. Introduced in 05_lora_training."""
    import pandas as pd

    rows = [{k: v for k, v in entry.items() if k != "step"} | {"step": entry["step"]}
            for entry in log_history if "loss" in entry]
    return pd.DataFrame(rows).set_index("step")


def clear_checkpoints(output_dir: str | Path) -> list[str]:
    """Remove the ``checkpoint-*`` folders a previous run left in ``output_dir``, so that a new run
    cannot be resumed from (or mixed up with) an old one. Returns the names removed."""
    import shutil

    old = checkpoints(output_dir)
    for path in old:
        shutil.rmtree(path)
    if old:
        print(f"a new run: removed {len(old)} checkpoint(s) of the previous run from {Path(output_dir).name}/")
    return [path.name for path in old]


def checkpoints(output_dir: str | Path | None = None) -> list[Path]:
    """The ``checkpoint-<step>`` folders of a run, in step order. Introduced in 05_lora_training."""
    output_dir = Path(output_dir) if output_dir else stage_dir("run")
    found = [p for p in output_dir.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return sorted(found, key=lambda p: int(p.name.split("-")[-1]))


__all__ = ["DEFAULT_SWANLAB_PROJECT", "INSTRUCTION_PART", "NoTrainableTokensError", "RESPONSE_PART",
           "TrainableBatches", "add_lora", "checkpoints", "clear_checkpoints", "expected_lora_parameters",
           "finish_swanlab", "log_table", "logged", "loss_summary", "make_trainer", "masked_example",
           "projection_shapes", "require_responses", "require_trainable", "rows_loss", "run_name", "sft_config",
           "standard_strides", "standard_strides_per_pass", "start_swanlab", "stop_after", "swanlab_report_to",
           "tokenize_text", "train", "trainable_parameters"]
