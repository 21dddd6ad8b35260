"""Each upstream bug or trap the series works around: one named function, the bug in its
docstring, a test in tests/test_workarounds.py that fails without it.

A notebook calls each in a visible cell of its own, so a learner sees that it is there and why;
when the upstream library fixes the bug, the function and its cell go.

The two notices ``import qwen3lab`` silences are harmless and not something a learner can act on;
each docstring says why. Introduced in 00_setup (the notices), 05_lora_training (SwanLab, resuming) and
06_saving_and_chat (the merge offline).

Every workaround of the series, here or where its subject lives (seen on: transformers 5.17.0,
TRL 1.15.0, PEFT 0.21.2, Unsloth 2026.10.9, swanlab 0.10.3, bitsandbytes 0.50.2, accelerate 1.15.0,
llama-cpp-python 0.3.36); each test fails once upstream fixes the bug, and then the workaround goes:

=================================  ========================================================  =====================================
workaround                         upstream: what, where                                     test
=================================  ========================================================  =====================================
quiet_bitsandbytes_kernels_notice  bitsandbytes ``backends/cpu/ops.py``: a notice to fetch    tests/test_workarounds.py
                                   kernels from the Hub at import
quiet_qwen_bos_notice              transformers: Qwen3 has no BOS, each tokenizer load warns  tests/test_workarounds.py
start_swanlab / finish_swanlab     swanlab ``integration/transformers.py``: ``report_to``      tests/test_workarounds.py
                                   alone logs before ``swanlab.init`` (No active Run)
use_cached_merge_base              unsloth_zoo ``saving_utils.determine_base_model_source``:  tests/test_workarounds.py
                                   the merge asks the Hub while offline
fresh_optimizer                    transformers ``Trainer._inner_training_loop`` keeps the    tests/test_train.py (same process)
                                   first ``train()``'s optimizer on a second call
keep_adapter_dtype                 PEFT ``PeftModel.load_adapter(autocast_adapter_dtype=True)`` tests/test_train.py (dtype, losses)
                                   casts a resumed bf16 adapter to float32
train.last_complete_checkpoint     transformers ``trainer_utils.get_last_checkpoint`` takes   tests/test_train.py
                                   a checkpoint cut off while being written
gguf.patch_gguf_qwen3_head_dim     transformers ``integrations/ggml.py``:                    tests/test_gguf.py
                                   ``GGUF_CONFIG_MAPPING["qwen3"]`` lacks ``head_dim``
gguf.suppressed_logits             llama.cpp reads no ``generation_config.suppress_tokens``  tests/test_screen.py
serve.screen_grammar               llama-cpp-python's server takes no logits processor       tests/test_serve.py
plain_cpu_device                   accelerate 1.15: a multi-process CPU run                  tests/test_ddp.py
checkpoint_barrier                 transformers ``Trainer._save_checkpoint`` under several    tests/test_ddp.py (the DDP run)
                                   processes
rewrap_before_each_train           transformers + PEFT: a second ``train()`` in one process  tests/test_ddp.py
fast.speedup.set_gradient_...      Unsloth ``get_peft_model`` fixes checkpointing once        tests/test_fast_speed_up.py
=================================  ========================================================  =====================================
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

#: bitsandbytes 0.50.2's logger for its CPU kernels, and the notice it logs at import.
BNB_CPU_LOGGER = "bitsandbytes.backends.cpu.ops"
BNB_KERNELS_NOTICE = "Failed to load CPU gemm_4bit_forward from kernels-community"


class _DropMessage(logging.Filter):
    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefix)


def quiet_bitsandbytes_kernels_notice() -> None:
    """Drop bitsandbytes 0.50.2's import-time warning "Failed to load CPU gemm_4bit_forward from
    kernels-community: No module named 'kernels'" on CPUs with avx512_bf16.

    Harmless: bitsandbytes then uses its own CPU 4-bit kernel, which is what every notebook has
    always run. The fix it suggests (``pip install kernels``) would make bitsandbytes download a
    kernel from the Hub at import, which an offline workshop cannot do. Only this one message of
    that logger is dropped; must run before bitsandbytes is imported. Called by ``import qwen3lab``.
    """
    logger = logging.getLogger(BNB_CPU_LOGGER)
    if not any(isinstance(f, _DropMessage) for f in logger.filters):
        logger.addFilter(_DropMessage(BNB_KERNELS_NOTICE))


#: transformers 5.17's logger of the trainer's special-token alignment, and its notice for Qwen3.
TRAINER_UTILS_LOGGER = "transformers.trainer_utils"
QWEN_BOS_NOTICE = "Updated tokens: {'bos_token_id': None}."


class _DropSuffix(_DropMessage):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().endswith(self.prefix)


def quiet_qwen_bos_notice() -> None:
    """Drop transformers 5.17's warning at ``trainer.train()`` "The tokenizer has new PAD/BOS/EOS
    tokens that differ from the model config ... Updated tokens: {'bos_token_id': None}."

    Harmless for Qwen3: its ``config.json`` names ``<|endoftext|>`` as ``bos_token_id`` but its
    tokenizer has no BOS token and never adds one (Qwen writes no BOS), so the trainer sets the
    config's to None, which changes nothing in training or generation. Only the notice whose sole
    change is that one is dropped; any other token change is still reported. Called by ``import qwen3lab``.
    """
    logger = logging.getLogger(TRAINER_UTILS_LOGGER)
    if not any(isinstance(f, _DropSuffix) for f in logger.filters):
        logger.addFilter(_DropSuffix(QWEN_BOS_NOTICE))


# -- SwanLab ------------------------------------------------------------------------------------------

SWANLAB_PROJECT_ENV = "SWANLAB_PROJECT"
DEFAULT_SWANLAB_PROJECT = "qwen3lab"


@contextlib.contextmanager
def _without_env(name: str) -> Iterator[None]:
    value = os.environ.pop(name, None)
    try:
        yield
    finally:
        if value is not None:
            os.environ[name] = value


def start_swanlab(mode: str, log_dir: str | Path, name: str | None = None) -> Path | None:
    """Start the SwanLab run that ``report_to="swanlab"`` logs into; its log folder, or None when it
    could not start (then train with ``report_to="none"``).

    ``report_to="swanlab"`` alone fails in transformers' ``SwanLabCallback.setup`` with
    ``RuntimeError: No active Run. Call swanlab.init() first.``: the callback asks
    ``swanlab.get_run()`` whether a run is active, expecting None, and swanlab 0.10.3 raises instead.
    With a run started here, the callback finds it and logs into it. Two more traps of the same version are handled: its
    settings parse ``$SWANLAB_PROJECT`` as JSON and fail on a plain name (the variable is hidden
    while it starts, and used as the project name); and cloud mode without ``swanlab login`` raises,
    so the run falls back to offline (upload it later with ``swanlab sync <folder>``).
    Introduced in 05_lora_training.
    """
    import swanlab

    if mode == "disabled":
        return None
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    project = os.environ.get(SWANLAB_PROJECT_ENV) or DEFAULT_SWANLAB_PROJECT
    modes = [mode] + (["offline"] if mode in ("cloud", "online") else [])
    for attempt in modes:
        try:
            with _without_env(SWANLAB_PROJECT_ENV):
                swanlab.init(project=project, mode=attempt, log_dir=str(log_dir), name=name,
                             settings=swanlab.Settings(interactive=False))
            return log_dir
        except Exception as exc:  # not logged in, unreachable, a broken install: train anyway
            why = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            nxt = ("logging offline instead (`swanlab login`, then `swanlab sync <run folder>` to upload)"
                   if attempt != modes[-1] else "set report_to='none' to train without tracking")
            print(f"SwanLab could not start in {attempt!r} mode ({why}); {nxt}.")
    return None


def finish_swanlab() -> None:
    """End the SwanLab run, if one is active (so the next run of the cell starts a new one).

    swanlab 0.10.3 prints at ``finish`` the same ``swanlab sync <folder>`` hint it printed when the
    run started: harmless, the first one already says where the run is and how to upload it, so
    the repeat is not shown. Introduced in 05_lora_training."""
    import io

    with contextlib.suppress(Exception), contextlib.redirect_stdout(io.StringIO()):
        import swanlab

        swanlab.finish()


# -- Unsloth's merge, offline -------------------------------------------------------------------------


def use_cached_merge_base(model) -> str | None:
    """Workaround (unsloth_zoo 2026.10.9, GPU): offline, point ``save_pretrained_merged`` at the
    16-bit base in the local cache. Returns that folder, or None where nothing needs changing.

    ``merge_and_overwrite_lora`` finds the base to merge into from ``model.config._name_or_path``
    (a Hub id such as ``unsloth/Qwen3-8B``). It looks for a local folder of that name, and then asks
    the Hub; with ``HF_HUB_OFFLINE=1`` that question raises "could not reach the Hugging Face Hub"
    although the base is in the cache (measured on the H200 with the rehearsal hub, 2026-12-02).
    A folder it takes at once, so offline, the Hub id is replaced by the cached snapshot's folder
    (the unquantized base: the name is first mapped as Unsloth maps it for ``load_in_4bit=False``).
    Online, or when the name is already a folder, the model is left as it is. A base missing from
    the cache is a ``FileNotFoundError`` that names the repo and the cache. Unsloth's CPU path
    merges without asking, so on a CPU this changes the name only. Introduced in 06_saving_and_chat."""
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
            f"HF_HUB_OFFLINE=1, and {base} (the 16-bit base save_pretrained_merged merges into) is not in the cache "
            f"{constants.HF_HUB_CACHE}: fill that cache where the Hub is reachable (docs/gpu.md), or unset "
            "HF_HUB_OFFLINE") from err
    model.config._name_or_path = folder
    return folder


def keep_adapter_dtype(trainer) -> None:
    """Make ``trainer.train(resume_from_checkpoint=...)`` keep the LoRA weights in the dtype they
    were trained in.

    transformers 5.17's ``Trainer._load_from_checkpoint`` reloads a PEFT adapter with
    ``model.load_adapter(checkpoint, ..., is_trainable=True)``, and PEFT 0.21's ``load_adapter``
    defaults to ``autocast_adapter_dtype=True``, which casts bfloat16 and float16 adapter weights to
    float32. A resumed run then trains float32 LoRA weights where the uninterrupted one trained
    bfloat16 ones: its losses drift from the uninterrupted run's (1.2e-4 at a loss of 11.7 on the
    tiny model) and the adapter it saves is twice the size. This wraps the trainer's
    ``_load_from_checkpoint`` to cast each trainable parameter back to its dtype before the load.
    Seen with transformers 5.17.0 and PEFT 0.21.2 (``peft/peft_model.py``, ``load_adapter``);
    ``tests/test_train.py`` fails once upstream keeps the dtype (the wrapper then changes nothing).
    Introduced in 05_lora_training."""
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
    """Make the next ``trainer.train(resume_from_checkpoint=...)`` in this process build its optimizer
    and schedule anew from the checkpoint, as a new process would.

    A workaround for resuming in the same process (notebook 05 interrupts and resumes its own run):
    transformers 5.17 creates an optimizer only when ``trainer.optimizer`` is None, so the second
    ``train()`` keeps the first call's, while resuming reloads the adapter through PEFT's
    ``load_adapter``, which puts new LoRA parameter tensors into the model. The kept optimizer then
    steps the old tensors and the resumed steps change no weight the model uses.
    Seen with transformers 5.17.0 (``Trainer._inner_training_loop``); ``tests/test_train.py``
    (``test_a_run_resumed_in_the_same_process_trains_the_reloaded_adapter``) tests it.
    Introduced in 05_lora_training."""
    trainer.optimizer = None
    trainer.lr_scheduler = None


# -- the data-parallel run of 05 (qwen3lab/ddp.py) -----------------------------------------------

def plain_cpu_device() -> None:
    """Make the trainer's device ``cpu``, not ``cpu:0``, in a run of several CPU processes.

    accelerate 1.15 (``PartialState.set_device``) gives each process of a multi-process CPU run
    ``torch.device("cpu", local_rank % torch.cpu.device_count())``, that is ``cpu:0``; with
    ``world_size > 1``, transformers 5.17's ``Trainer._load_optimizer_and_scheduler`` loads
    ``optimizer.pt`` with ``map_location=args.device``, and torch 2.13's ``_cpu_deserialize`` accepts
    only ``"cpu"``: resuming (05's section 8) fails with ``... (tagged with cpu:0)``.
    ``PartialState`` reads its device from ``ACCELERATE_TORCH_DEVICE``, so that is set (a user's
    value stays). ``tests/test_ddp.py`` (``test_a_cpu_device_with_an_index_cannot_load_a_checkpoint``)."""
    os.environ.setdefault("ACCELERATE_TORCH_DEVICE", "cpu")


def checkpoint_barrier():
    """A ``TrainerCallback`` that holds every process after each checkpoint until all have written
    their part.

    transformers 5.17's ``Trainer._save_checkpoint`` writes the adapter, optimizer and
    ``trainer_state.json`` from rank 0 and each process's ``rng_state_<rank>.pth``, with no barrier
    after them. Notebook 05 resumes at once after a checkpoint: a process that gets there first reads
    it while rank 0 is still writing (``FileNotFoundError: ... trainer_state.json``, or a half-written
    ``optimizer.pt``). ``on_save`` runs in every process after its part. ``tests/test_ddp.py``."""
    from transformers import TrainerCallback

    class CheckpointBarrier(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            import torch.distributed as dist

            if dist.is_initialized():
                dist.barrier()

    return CheckpointBarrier()


def rewrap_before_each_train(trainer) -> None:
    """Give every ``trainer.train()`` call after the first a new DDP wrapper, over the model's
    parameters as they are then.

    transformers 5.17 keeps the first call's ``DistributedDataParallel`` wrapper on a second
    ``train()`` in the same process (``_wrap_model``: "if already wrapped, don't re-wrap it again"),
    but resuming loads the adapter with PEFT 0.21's ``load_adapter``, which puts new parameters in
    place of the LoRA weights: the old wrapper no longer all-reduces the parameters that train, and
    each process silently steps on its own rows' gradient (the tiny model's first resumed step: grad
    norm 0.343 on 2 processes, 0.192 on one). Dropping the old wrapper, and the accelerator's
    reference to it, makes ``train()`` wrap anew. ``tests/test_ddp.py`` (the two-process run)."""
    inner = trainer.train

    def train(*args, **kwargs):
        old = trainer.model_wrapped
        if old is not trainer.model:
            trainer.accelerator._models = [m for m in trainer.accelerator._models if m is not old]
            trainer.model_wrapped = trainer.model
            del old
        return inner(*args, **kwargs)

    trainer.train = train


__all__ = ["DEFAULT_SWANLAB_PROJECT", "checkpoint_barrier", "finish_swanlab", "fresh_optimizer", "keep_adapter_dtype",
           "plain_cpu_device", "quiet_bitsandbytes_kernels_notice", "quiet_qwen_bos_notice", "rewrap_before_each_train",
           "start_swanlab", "use_cached_merge_base"]
