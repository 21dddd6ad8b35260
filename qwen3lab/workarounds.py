"""Each upstream bug or trap the series works around: one named function, the bug in its docstring,
called in a visible notebook cell of its own (``import qwen3lab`` applies the two notice filters).

Every workaround of the series lives here (seen on: transformers 5.17.0, TRL 1.15.0, PEFT 0.21.2,
Unsloth 2026.10.9, swanlab 0.10.3, bitsandbytes 0.50.2, accelerate 1.15.0). Each entry: the upstream
file or function, where the bug is reported upstream (where a report was found), and the test that
fails once upstream fixes it; then the workaround and its notebook cell go.

- ``quiet_bitsandbytes_kernels_notice``: bitsandbytes ``backends/cpu/ops.py`` logs a notice to fetch
  kernels from the Hub at import. Test: tests/test_workarounds.py.
- ``quiet_qwen_bos_notice``: transformers ``trainer_utils`` warns on each tokenizer load that Qwen3
  has no BOS. Test: tests/test_workarounds.py.
- ``start_swanlab`` / ``finish_swanlab``: transformers' ``SwanLabCallback`` asks
  ``swanlab.get_run() is None``, which swanlab answers by raising "No active Run"; reported as
  hiyouga/LlamaFactory#10704. Test: tests/test_workarounds.py.
- ``use_cached_merge_base``: unsloth_zoo ``saving_utils.determine_base_model_source`` asks the Hub
  while offline; related: unslothai/unsloth#2150. Test: tests/test_workarounds.py.
- ``fresh_optimizer``: transformers ``Trainer._inner_training_loop`` keeps the first ``train()``'s
  optimizer on a second call. Test: tests/test_train.py (same process).
- ``keep_adapter_dtype``: PEFT ``PeftModel.load_adapter(autocast_adapter_dtype=True)`` casts a
  resumed bf16 adapter to float32; reported as huggingface/peft#2421. Test: tests/test_train.py.
- ``last_complete_checkpoint``: transformers ``trainer_utils.get_last_checkpoint`` takes a
  checkpoint cut off while being written. Test: tests/test_train.py.
- ``patch_gguf_qwen3_head_dim``: transformers ``integrations/ggml.py``
  ``GGUF_CONFIG_MAPPING["qwen3"]`` lacks ``head_dim`` (huggingface/transformers#33526 added it for
  llama and mistral only). Test: tests/test_gguf.py.
- ``set_gradient_checkpointing``: Unsloth's ``get_peft_model`` applies the checkpointing mode once;
  the speed layer's later change needs it redone. Test: tests/test_fast_speed_up.py.
- ``plain_cpu_device``: accelerate ``PartialState.set_device`` gives each CPU process ``cpu:0``,
  which torch refuses as a ``map_location`` on resume. Test: tests/test_ddp.py.
- ``checkpoint_barrier``: transformers ``Trainer._save_checkpoint`` under several processes.
  Test: tests/test_ddp.py (the DDP run).
- ``rewrap_before_each_train``: transformers ``Trainer._wrap_model`` keeps the first ``train()``'s
  DDP wrapper after PEFT's ``load_adapter`` replaced the parameters. Test: tests/test_ddp.py.

Two gaps of llama.cpp are filled where they are used, for the tiny model's screen (02): llama.cpp
reads no ``generation_config.suppress_tokens`` (``gguf.suppressed_logits``, tests/test_screen.py)
and llama-cpp-python's server takes no logits processor (``serve.screen_grammar``,
tests/test_serve.py).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from pathlib import Path

BNB_CPU_LOGGER = "bitsandbytes.backends.cpu.ops"
BNB_KERNELS_NOTICE = "Failed to load CPU gemm_4bit_forward from kernels-community"
TRAINER_UTILS_LOGGER = "transformers.trainer_utils"
QWEN_BOS_NOTICE = "Updated tokens: {'bos_token_id': None}."
DEFAULT_SWANLAB_PROJECT = "qwen3lab"


class _DropMessage(logging.Filter):
    """Drops the records whose message starts with ``text``."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.text)


class _DropSuffix(_DropMessage):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().endswith(self.text)


def _add_filter_once(logger_name: str, drop: _DropMessage) -> None:
    logger = logging.getLogger(logger_name)
    if not any(type(f) is type(drop) for f in logger.filters):
        logger.addFilter(drop)


def quiet_bitsandbytes_kernels_notice() -> None:
    """Drop bitsandbytes' import-time notice ``BNB_KERNELS_NOTICE`` (``backends/cpu/ops.py``, CPUs
    with avx512_bf16). Harmless: it then uses its own CPU 4-bit kernel; the suggested ``pip install
    kernels`` would fetch kernels from the Hub, which offline cannot. Runs at ``import qwen3lab``.
    Introduced in 00_setup."""
    _add_filter_once(BNB_CPU_LOGGER, _DropMessage(BNB_KERNELS_NOTICE))


def quiet_qwen_bos_notice() -> None:
    """Drop transformers' ``trainer_utils`` warning "The tokenizer has new PAD/BOS/EOS tokens ...
    Updated tokens: {'bos_token_id': None}.": Qwen3 writes no BOS, so that change is none; any other
    is still reported. Runs at ``import qwen3lab``. Introduced in 00_setup."""
    _add_filter_once(TRAINER_UTILS_LOGGER, _DropSuffix(QWEN_BOS_NOTICE))


def start_swanlab(mode: str, log_dir: str | Path, name: str | None = None) -> Path | None:
    """Start the SwanLab run that ``report_to="swanlab"`` logs into; its log folder, or None when it
    could not start (then train with ``report_to="none"``).

    Alone, ``report_to="swanlab"`` fails in transformers' ``SwanLabCallback.setup`` ("No active Run":
    ``swanlab.get_run()`` raises where None is expected). Also: swanlab parses ``$SWANLAB_PROJECT`` as
    JSON (hidden while the run starts, used as the project name), and cloud mode without a login
    raises (the run falls back to offline). Introduced in 05_lora_training."""
    import swanlab

    if mode == "disabled":
        return None
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    project = os.environ.get("SWANLAB_PROJECT") or DEFAULT_SWANLAB_PROJECT
    modes = [mode] + (["offline"] if mode in ("cloud", "online") else [])
    for attempt in modes:
        saved = os.environ.pop("SWANLAB_PROJECT", None)
        try:
            swanlab.init(project=project, mode=attempt, log_dir=str(log_dir), name=name,
                         settings=swanlab.Settings(interactive=False))
            return log_dir
        except Exception as exc:  # not logged in, unreachable, a broken install: train anyway
            why = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            nxt = ("logging offline instead (`swanlab login`, then `swanlab sync <run folder>` to upload)"
                   if attempt != modes[-1] else "set report_to='none' to train without tracking")
            print(f"SwanLab could not start in {attempt!r} mode ({why}); {nxt}.")
        finally:
            if saved is not None:
                os.environ["SWANLAB_PROJECT"] = saved
    return None


def finish_swanlab() -> None:
    """End the active SwanLab run, if any, without the ``swanlab sync`` hint it repeats.

    Introduced in 05_lora_training."""
    import io

    with contextlib.suppress(Exception), contextlib.redirect_stdout(io.StringIO()):
        import swanlab

        swanlab.finish()


def use_cached_merge_base(model) -> str | None:
    """Offline, point ``save_pretrained_merged`` at the 16-bit base in the local cache; that folder,
    or None where nothing needs changing (online, or the name is already a folder).

    unsloth_zoo's ``saving_utils.determine_base_model_source`` resolves ``config._name_or_path``
    (a Hub id) by asking the Hub, which raises under ``HF_HUB_OFFLINE=1`` although the base is
    cached; a folder it takes at once. The id is first mapped as Unsloth maps it for
    ``load_in_4bit=False``. A base missing from the cache is a ``FileNotFoundError`` naming the repo
    and the cache. Introduced in 06_saving_and_chat."""
    from huggingface_hub import constants, snapshot_download

    name = str(model.config._name_or_path)
    if not constants.HF_HUB_OFFLINE or Path(name).is_dir():
        return None
    try:
        from unsloth.models.loader_utils import get_model_name

        base = get_model_name(name, load_in_4bit=False) or name
    except Exception:  # noqa: BLE001 - an unmapped or odd name: the name itself
        base = name
    try:
        folder = snapshot_download(base, local_files_only=True)
    except Exception as err:  # noqa: BLE001 - LocalEntryNotFoundError and its relatives
        raise FileNotFoundError(
            f"HF_HUB_OFFLINE=1, and {base} (the 16-bit base save_pretrained_merged merges into) is not in "
            f"the cache {constants.HF_HUB_CACHE}: fill that cache where the Hub is reachable (docs/gpu.md), "
            "or unset HF_HUB_OFFLINE") from err
    model.config._name_or_path = folder
    return folder


def keep_adapter_dtype(trainer) -> None:
    """Make ``trainer.train(resume_from_checkpoint=...)`` keep the LoRA weights in their trained dtype.

    transformers' ``Trainer._load_from_checkpoint`` reloads the adapter with PEFT's
    ``PeftModel.load_adapter``, whose default ``autocast_adapter_dtype=True`` casts bf16/fp16
    adapter weights to float32: the resumed run's losses drift from the uninterrupted one's.
    The wrapper casts each trainable parameter back after the load. Introduced in 05_lora_training."""
    load = trainer._load_from_checkpoint

    def load_keeping_dtype(resume_from_checkpoint, model=None):
        target = model if model is not None else trainer.model
        dtypes = {name: p.dtype for name, p in target.named_parameters() if p.requires_grad}
        load(resume_from_checkpoint, model)
        for name, p in target.named_parameters():
            if name in dtypes and p.dtype != dtypes[name]:
                p.data = p.data.to(dtypes[name])

    trainer._load_from_checkpoint = load_keeping_dtype


def fresh_optimizer(trainer) -> None:
    """Make the next ``trainer.train(resume_from_checkpoint=...)`` in this process build its
    optimizer and schedule anew, as a new process would.

    transformers' ``Trainer._inner_training_loop`` keeps an existing ``trainer.optimizer``, but
    resuming puts new LoRA tensors into the model (PEFT's ``load_adapter``): the kept optimizer
    would step the old ones. Introduced in 05_lora_training."""
    trainer.optimizer = None
    trainer.lr_scheduler = None


# -- the data-parallel run of 05 (qwen3lab/ddp.py) -----------------------------------------------

def plain_cpu_device() -> None:
    """Make the trainer's device ``cpu``, not ``cpu:0``, in a run of several CPU processes.

    accelerate's ``PartialState.set_device`` gives each CPU process ``cpu:0``; transformers'
    ``Trainer._load_optimizer_and_scheduler`` then loads ``optimizer.pt`` with that as
    ``map_location``, which torch's ``_cpu_deserialize`` refuses ("tagged with cpu:0").
    ``ACCELERATE_TORCH_DEVICE`` is set unless the user set it."""
    os.environ.setdefault("ACCELERATE_TORCH_DEVICE", "cpu")


def checkpoint_barrier():
    """A ``TrainerCallback`` that holds every process after each checkpoint until all wrote their part.

    transformers' ``Trainer._save_checkpoint`` has no barrier after rank 0's files, so a process
    resuming at once can read a half-written checkpoint."""
    from transformers import TrainerCallback

    class CheckpointBarrier(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            import torch.distributed as dist

            if dist.is_initialized():
                dist.barrier()

    return CheckpointBarrier()


def rewrap_before_each_train(trainer) -> None:
    """Give every ``trainer.train()`` after the first a new DDP wrapper over the current parameters.

    transformers' ``_wrap_model`` keeps the first call's ``DistributedDataParallel`` wrapper, but
    resuming replaces the LoRA parameters (PEFT's ``load_adapter``): the old wrapper no longer
    all-reduces them and each process silently trains on its own gradient. Dropping the wrapper and
    the accelerator's reference to it makes ``train()`` wrap anew."""
    inner = trainer.train

    def train(*args, **kwargs):
        old = trainer.model_wrapped
        if old is not trainer.model:
            trainer.accelerator._models = [m for m in trainer.accelerator._models if m is not old]
            trainer.model_wrapped = trainer.model
            del old
        return inner(*args, **kwargs)

    trainer.train = train



#: What the trainer writes into a checkpoint last (transformers' ``TRAINER_STATE_NAME``).
TRAINER_STATE = "trainer_state.json"


#: Where ``last_complete_checkpoint`` puts checkpoints that were not written to the end.
INCOMPLETE = "incomplete"


def _incomplete(checkpoint: Path) -> str | None:
    """Why a checkpoint cannot be resumed from, or None when it can."""
    state = checkpoint / TRAINER_STATE
    if not state.is_file():
        return f"no {TRAINER_STATE}, which the trainer writes last"
    try:
        step = json.loads(state.read_text(encoding="utf-8"))["global_step"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
        return f"its {TRAINER_STATE} is cut short"
    if step != int(checkpoint.name.split("-")[-1]):
        return f"its {TRAINER_STATE} says step {step}"
    from .artifacts import CorruptArtifactError, _check_safetensors

    weights = sorted(checkpoint.glob("*.safetensors"))
    if not weights:
        return "no adapter weights (*.safetensors)"
    for file in weights:
        try:
            _check_safetensors(file)
        except CorruptArtifactError:
            return f"its {file.name} is cut short"
    return None


def last_complete_checkpoint(output_dir: str | Path) -> Path | None:
    """The last checkpoint of a run that was written to the end, to pass to
    ``trainer.train(resume_from_checkpoint=...)``; None when there is none (training starts at step 0).

    Works around transformers' ``trainer_utils.get_last_checkpoint`` (``resume_from_checkpoint=True``),
    which takes the highest step without asking whether it is whole: a run killed while saving leaves
    a folder without ``trainer_state.json`` (written last), and resuming from it fails. Each newer
    checkpoint that is not whole is moved, not deleted, to ``<output_dir>/incomplete/`` (out of the
    trainer's sight, so ``True`` then works too), and said so. Introduced in 05_lora_training.
    """
    from .train import checkpoints

    output_dir = Path(output_dir)
    for checkpoint in reversed(checkpoints(output_dir)):
        why = _incomplete(checkpoint)
        if why is None:
            return checkpoint
        aside = output_dir / INCOMPLETE / checkpoint.name
        aside.parent.mkdir(exist_ok=True)
        for n in range(2, 1000):
            if not aside.exists():
                break
            aside = output_dir / INCOMPLETE / f"{checkpoint.name}-{n}"
        os.replace(checkpoint, aside)
        print(f"{checkpoint.name} was not written to the end ({why}): moved to {aside.relative_to(output_dir)}")
    print(f"no complete checkpoint in {output_dir}: training starts at step 0")
    return None


def patch_gguf_qwen3_head_dim() -> bool:
    """Teach transformers' GGUF reader Qwen3's head size, in this process; True if it needed it.

    Workaround: transformers' ``integrations/ggml.py`` ``GGUF_CONFIG_MAPPING["qwen3"]`` lacks
    ``"attention.key_length": "head_dim"``, so a GGUF loads with ``Qwen3Config``'s default 128
    (right for every released Qwen3, wrong for the tiny model). Introduced in 08_export."""
    from transformers.integrations.ggml import GGUF_CONFIG_MAPPING

    mapping = GGUF_CONFIG_MAPPING["qwen3"]
    if mapping.get("attention.key_length") == "head_dim":
        return False
    mapping["attention.key_length"] = "head_dim"
    return True


def set_gradient_checkpointing(model, mode: str | bool) -> str | bool:
    """Switch ``model``'s gradient checkpointing to ``mode`` after ``get_peft_model`` applied another;
    returns the mode in effect. Does what ``get_peft_model(..., use_gradient_checkpointing=mode)``
    would have done.

    Unsloth applies the mode once, in ``get_peft_model``: ``apply_unsloth_gradient_checkpointing``
    installs (for ``"unsloth"``) or removes its offloading checkpoint function, and the mode is
    recorded as ``model._unsloth_gradient_checkpointing``. Training then follows the recorded mode,
    not the modules' flags: Unsloth's ``SFTTrainer.__init__`` and ``trainer.train()`` call
    ``model.for_training(use_gradient_checkpointing=<recorded>)``, which sets every module's flag
    (and arms layers never armed). So this redoes those three steps. ``SFTConfig.gradient_checkpointing``
    must agree (``Trainer.train`` turns checkpointing on when it is True, and Unsloth resets it only
    when it still holds TRL's default): ``speed_up`` sets it on the ``SFTConfig``.
    Introduced in 05_lora_training.
    """
    # imported by ``import unsloth`` on a GPU; absent under Unsloth's CPU backend, where importing it
    # fails (a circular import), and for a model that is not Unsloth's
    utils = sys.modules.get("unsloth.models._utils")
    effective = mode
    if utils is not None:
        try:
            dtype = model.get_input_embeddings().weight.dtype
        except (AttributeError, NotImplementedError):
            dtype = None  # Unsloth then picks bf16 where the GPU has it
        effective = utils.apply_unsloth_gradient_checkpointing(mode, getattr(model, "max_seq_length", 2048), dtype)
    model._unsloth_gradient_checkpointing = effective
    if hasattr(model, "for_training"):
        model.for_training(use_gradient_checkpointing=effective)
    return effective


__all__ = ["DEFAULT_SWANLAB_PROJECT", "checkpoint_barrier", "finish_swanlab", "fresh_optimizer",
           "keep_adapter_dtype", "last_complete_checkpoint", "patch_gguf_qwen3_head_dim",
           "plain_cpu_device", "quiet_bitsandbytes_kernels_notice", "quiet_qwen_bos_notice",
           "rewrap_before_each_train", "set_gradient_checkpointing", "start_swanlab",
           "use_cached_merge_base"]
