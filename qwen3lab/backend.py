"""Unsloth, or transformers + PEFT + TRL: the one module that knows which one runs.

The notebooks teach Unsloth, so Unsloth runs wherever it is installed: on a CUDA GPU with its
kernels, and on a CPU through its own CPU backend (Unsloth 2026.10.9). Where Unsloth cannot be
installed, the same calls go to transformers + bitsandbytes + PEFT + TRL. Everything that differs
between the two, and between a CPU and a GPU, lives here, so a notebook file runs unchanged.

Known traps handled here (see ../shared/cpu-facts.md and docs/gpu.md):

* TRL 1.15.0's ``SFTTrainer`` always computes the loss through a fused LM head whose kernel is
  Triton-only; on a CPU it is ``None`` and the first step fails. ``install_trl_cpu_shim``
  supplies a plain-PyTorch implementation (Unsloth's CPU backend installs its own).
* bitsandbytes on a CPU with avx512_bf16 repacks 4-bit weights on the first no-grad forward,
  after which LoRA gradients are wrong. ``_pin_cpu_4bit_layout`` turns the repacking off.
* ``import unsloth`` must come before transformers/TRL/PEFT are imported, so that its patches
  apply; ``bootstrap`` does that when ``qwen3lab`` is imported.

Introduced in 00_setup.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

from .config import Config, get_config

UNSLOTH = "unsloth"
TRANSFORMERS = "transformers"


class BackendError(RuntimeError):
    """The requested backend, device or model cannot be used on this machine."""


# -- selection -------------------------------------------------------------------------


def unsloth_installed() -> bool:
    return importlib.util.find_spec("unsloth") is not None


def resolve_backend(cfg: Config) -> str:
    """``"unsloth"`` or ``"transformers"`` for ``cfg.backend`` on this machine. Introduced in 00_setup."""
    if cfg.backend == TRANSFORMERS:
        return TRANSFORMERS
    if cfg.backend == UNSLOTH and not unsloth_installed():
        raise BackendError(
            "backend='unsloth' was asked for but Unsloth is not installed. Install it with "
            "`pip install --no-deps unsloth==2026.10.9 unsloth_zoo==2026.10.9` (as `make` does), "
            "or set QWEN3LAB_BACKEND=transformers."
        )
    return UNSLOTH if unsloth_installed() else TRANSFORMERS


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def bootstrap(cfg: Config | None = None) -> str:
    """Prepare the process for ``cfg`` (default: the active profile) and return the backend.

    Sets the environment the offline profile needs and imports Unsloth first when it is the
    backend. Called once by ``import qwen3lab``; idempotent.
    """
    cfg = cfg or get_config()
    os.environ.setdefault("UNSLOTH_AUTO_INSTALL", "0")  # never apt-get / git clone from a notebook
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if cfg.uses_tiny_model:
        # The tiny profile must never touch the network; set before huggingface_hub is imported.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    name = resolve_backend(cfg)
    if name == UNSLOTH and "unsloth" not in sys.modules:
        import unsloth  # noqa: F401  (must precede transformers, trl and peft)
    elif name == TRANSFORMERS:
        install_trl_cpu_shim()
    return name


# -- preflight ---------------------------------------------------------------------------


def check_environment(cfg: Config) -> None:
    """Fail at once, with what to do, when ``cfg`` cannot run here. Introduced in 00_setup."""
    if cfg.requires_cuda and not cuda_available():
        raise BackendError(
            f"profile {cfg.profile!r} needs a CUDA GPU (model {cfg.model_name}) and none is visible. "
            "Run the tiny profile instead (`make run`, or QWEN3LAB_PROFILE=tiny), or move to a GPU "
            "machine: see docs/gpu.md."
        )
    if not cfg.uses_tiny_model:
        check_model_reachable(cfg.model_name)


def check_model_reachable(model_name: str) -> None:
    """The model is a local folder, in the Hugging Face cache, or the Hub is allowed and answers."""
    if os.path.isdir(model_name):
        return
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(model_name, "config.json"), str):
        return
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False"):
        raise BackendError(
            f"{model_name} is not in the Hugging Face cache and HF_HUB_OFFLINE is set. Pre-fill the cache "
            f"on a machine with internet (`hf download {model_name}`, see docs/gpu.md) or unset HF_HUB_OFFLINE."
        )
    from huggingface_hub import model_info

    try:
        model_info(model_name, timeout=10)
    except Exception as exc:  # no network, DNS failure, gated repo...
        raise BackendError(
            f"{model_name} is not cached and the Hub cannot be reached ({type(exc).__name__}: {exc}). "
            "Connect to the internet, or pre-fill the cache and set HF_HUB_OFFLINE=1 (docs/gpu.md), "
            "or use the tiny profile."
        ) from exc


def device_summary() -> dict[str, Any]:
    """The compute device: GPU name and memory, or CPU threads."""
    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return {"device": "cuda", "name": props.name, "total_memory_gib": round(props.total_memory / 2**30, 1),
                "capability": f"{props.major}.{props.minor}", "bf16": torch.cuda.is_bf16_supported()}
    return {"device": "cpu", "name": "CPU", "threads": torch.get_num_threads(), "cores": os.cpu_count()}


# -- loading -----------------------------------------------------------------------------


def _torch_dtype(cfg: Config):
    import torch

    if cfg.dtype is not None:
        return getattr(torch, cfg.dtype)
    if torch.cuda.is_available():
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def unsloth_loader(cfg: Config):
    """Unsloth's loader class that ``cfg.unsloth_loader`` names: ``FastLanguageModel`` (the source
    tutorial's) or ``FastModel``.

    Both load the same 4-bit model and attach the same LoRA adapters; they differ in the decoder
    forward. FastLanguageModel runs Unsloth's own Qwen3 forward, which its per-layer torch.compile
    leaves uncompiled for padding-free batches; FastModel keeps transformers' forward, which Unsloth
    compiles per layer for those batches too (fewer kernel launches: see docs/benchmarks.md).
    Every call of one model (load, LoRA, train/inference switches, adapter reload) uses the same one.
    """
    import unsloth

    return getattr(unsloth, cfg.unsloth_loader)


#: What Unsloth hands each compiled decoder block of a padding-free pass: (cu_seqlens, longest
#: sequence), as torch.compile names them. Compiled as constants, the longest sequence cost a
#: recompile of every block at the second step (12 to 15 s on an H100 at max_seq_length 8192), and
#: the number of sequences another when a step was first split into passes.
UNSLOTH_VARLEN_SOURCES = ("L['kwargs']['_unsloth_block_varlen'][0]", "L['kwargs']['_unsloth_block_varlen'][1]")


def compile_varlen_dynamic() -> None:
    """Have torch.compile treat the per-pass sequence boundaries as dynamic from the first compile.

    Adds ``UNSLOTH_VARLEN_SOURCES`` to ``torch.compiler.config.dynamic_sources`` (keeping what is
    there). Only those two inputs: compiling every shape as dynamic (``assume_static_by_default``
    off) also avoided the second-step recompile, but made the steps 10-20% slower
    (docs/benchmarks.md).
    """
    import torch

    current = [s for s in torch.compiler.config.dynamic_sources.split(",") if s]
    torch.compiler.config.dynamic_sources = ",".join(
        current + [s for s in UNSLOTH_VARLEN_SOURCES if s not in current])


def load_pretrained(cfg: Config, model_path: str) -> tuple[Any, Any]:
    """(model, tokenizer) from ``model_path`` with the backend ``cfg`` resolves to."""
    if resolve_backend(cfg) == UNSLOTH:
        model, tokenizer = unsloth_loader(cfg).from_pretrained(
            model_name=model_path, max_seq_length=cfg.max_seq_length,
            dtype=None if cfg.dtype is None else _torch_dtype(cfg), load_in_4bit=cfg.load_in_4bit,
        )
        return model, tokenizer
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    dtype = _torch_dtype(cfg)
    kwargs: dict[str, Any] = {"dtype": dtype}
    if cfg.load_in_4bit:
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
        )
    if cuda_available():
        kwargs["device_map"] = {"": 0}
    model = AutoModelForCausalLM.from_pretrained(model_path, **kwargs)
    _pin_cpu_4bit_layout(model)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    return model, tokenizer


def _pin_cpu_4bit_layout(model) -> int:
    """Trap 2: stop bitsandbytes from repacking CPU 4-bit weights on a no-grad forward.

    Returns the number of layers changed (0 on a GPU or without 4-bit layers).
    """
    if next(model.parameters()).device.type != "cpu":
        return 0
    changed = 0
    for module in model.modules():
        if getattr(module, "support_avx512bf16_for_cpu", False):
            module.support_avx512bf16_for_cpu = False
            changed += 1
    return changed


# -- LoRA and training ----------------------------------------------------------------------


def get_peft_model(model, cfg: Config, target_modules: list[str]):
    """Attach LoRA adapters with the backend's own call."""
    if resolve_backend(cfg) == UNSLOTH:
        return unsloth_loader(cfg).get_peft_model(
            model, r=cfg.r, target_modules=list(target_modules), lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout, bias=cfg.bias,
            use_gradient_checkpointing=cfg.use_gradient_checkpointing, random_state=cfg.random_state,
        )
    import torch
    from peft import LoraConfig, get_peft_model as peft_get_peft_model, prepare_model_for_kbit_training

    gc = bool(cfg.use_gradient_checkpointing)  # "unsloth" means plain checkpointing here
    if cfg.load_in_4bit:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=gc)
    elif gc:
        model.gradient_checkpointing_enable()
    torch.manual_seed(cfg.random_state)
    lora = LoraConfig(r=cfg.r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout, bias=cfg.bias,
                      target_modules=list(target_modules), task_type="CAUSAL_LM")
    return peft_get_peft_model(model, lora)


def for_inference(model, cfg: Config):
    """Switch to generation mode (Unsloth's fast path where it exists)."""
    if resolve_backend(cfg) == UNSLOTH:
        unsloth_loader(cfg).for_inference(model)
    model.eval()
    return model


def for_training(model, cfg: Config):
    if resolve_backend(cfg) == UNSLOTH:
        unsloth_loader(cfg).for_training(model)
    model.train()
    return model


# -- trap 1: TRL's Triton-only fused LM head -----------------------------------------------------


class _TorchChunkedLogProb:
    """Plain-PyTorch stand-in for TRL's Triton ``ChunkedLogProbFunction`` (same call signature).

    TRL 1.15.0 calls ``apply(hidden, weight, bias, labels, temperature, chunk_size, softcap,
    logit_scale, outputs)`` and expects per-token (log_probs, entropy, log_sum_sq_probs,
    mean_logits, is_top1), each None unless requested (log_probs always). Only ``log_probs``
    carries a gradient; the other fields are metrics.

    When the LM head is frozen (LoRA), the gradient of each log-prob with respect to its hidden
    state, ``sum_j (onehot_j - p_j) * dlogit_j/du_j * W_j``, is formed chunk by chunk in the forward
    pass and kept as one (tokens x hidden) tensor, so no (tokens x vocab) block outlives its chunk:
    with Qwen3's 151,936-token vocabulary that is what made CPU training slow and memory-hungry.
    A trainable head or bias falls back to plain autograd (``_autograd_log_probs``).
    """

    @staticmethod
    def apply(hidden, weight, bias, labels, temperature, chunk_size, softcap, logit_scale, outputs):
        import torch

        wants_param_grad = torch.is_grad_enabled() and (
            weight.requires_grad or (bias is not None and bias.requires_grad))
        if wants_param_grad:
            return _autograd_log_probs(hidden, weight, bias, labels, temperature, chunk_size, softcap,
                                       logit_scale, outputs)
        return _fused_log_prob_function().apply(hidden, weight, bias, labels, temperature, chunk_size, softcap,
                                                logit_scale, tuple(outputs))


_FIELDS = ("log_probs", "entropy", "log_sum_sq_probs", "mean_logits", "is_top1")


def _chunk_logits(hidden, weight, bias, temperature, softcap, logit_scale):
    """Final logits of one chunk, and d(final logit)/d(raw logit) (a number when it is constant)."""
    import torch

    logits = torch.nn.functional.linear(hidden, weight, bias).float()
    if logit_scale != 1:
        logits = logits * logit_scale
    slope = logit_scale / temperature
    if softcap:
        capped = torch.tanh(logits / softcap)
        slope = (1 - capped * capped) * slope
        logits = softcap * capped
    if temperature != 1:
        logits = logits / temperature
    return logits, slope


def _metrics(logits, logp, target, outputs, parts, probs=None) -> None:
    import torch

    if "entropy" in outputs:
        parts["entropy"].append(-((logp.exp() if probs is None else probs) * logp).sum(-1))
    if "log_sum_sq_probs" in outputs:
        parts["log_sum_sq_probs"].append(torch.logsumexp(2 * logp, dim=-1))
    if "mean_logits" in outputs:
        parts["mean_logits"].append(logits.mean(-1))
    if "is_top1" in outputs:
        parts["is_top1"].append(logits.argmax(-1) == target)


def _collect(parts, hidden, outputs) -> list:
    import torch

    result = []
    for name in _FIELDS:
        if name != "log_probs" and name not in outputs:
            result.append(None)
        elif parts[name]:
            result.append(torch.cat(parts[name]))
        else:  # no trainable token in this batch
            result.append(hidden.new_zeros(0) if name != "is_top1" else hidden.new_zeros(0, dtype=torch.bool))
    return result


def _autograd_log_probs(hidden, weight, bias, labels, temperature, chunk_size, softcap, logit_scale, outputs):
    """The straightforward version: autograd through every chunk (for a trainable LM head)."""
    parts: dict[str, list] = {name: [] for name in _FIELDS}
    chunk = int(chunk_size or 1024)
    for start in range(0, hidden.shape[0], chunk):
        logits, _ = _chunk_logits(hidden[start:start + chunk], weight, bias, temperature, softcap, logit_scale)
        logp = logits.log_softmax(-1)
        target = labels[start:start + chunk]
        parts["log_probs"].append(logp.gather(-1, target[:, None]).squeeze(-1))
        _metrics(logits, logp, target, outputs, parts)
    result = _collect(parts, hidden, outputs)
    if not parts["log_probs"]:
        result[0] = hidden.sum(-1)[:0]  # keep the graph connected
    return tuple(result)


_FUSED = None


def _fused_log_prob_function():
    """The autograd Function behind ``_TorchChunkedLogProb`` (built on first use: torch is imported lazily)."""
    global _FUSED
    if _FUSED is not None:
        return _FUSED
    import torch

    class FusedLogProb(torch.autograd.Function):
        @staticmethod
        def forward(ctx, hidden, weight, bias, labels, temperature, chunk_size, softcap, logit_scale, outputs):
            parts: dict[str, list] = {name: [] for name in _FIELDS}
            grad_hidden = torch.empty(hidden.shape, dtype=torch.float32) if hidden.requires_grad else None
            chunk = int(chunk_size or 1024)
            for start in range(0, hidden.shape[0], chunk):
                h = hidden[start:start + chunk]
                target = labels[start:start + chunk]
                logits, slope = _chunk_logits(h, weight, bias, temperature, softcap, logit_scale)
                logp = logits.log_softmax(-1)
                parts["log_probs"].append(logp.gather(-1, target[:, None]).squeeze(-1))
                probs = logp.exp() if grad_hidden is not None or "entropy" in outputs else None
                _metrics(logits, logp, target, outputs, parts, probs)
                if grad_hidden is not None:
                    step = probs.neg_()  # (onehot - p) * slope, built in place
                    step.scatter_add_(-1, target[:, None], torch.ones_like(target[:, None], dtype=step.dtype))
                    if not (isinstance(slope, float) and slope == 1):
                        step.mul_(slope)
                    grad_hidden[start:start + chunk] = step @ weight.float()
            result = _collect(parts, hidden, outputs)
            ctx.save_for_backward(grad_hidden if grad_hidden is not None else hidden.new_zeros(0))
            ctx.hidden_dtype = hidden.dtype
            ctx.mark_non_differentiable(*[r for r in result[1:] if r is not None])
            return tuple(result)

        @staticmethod
        def backward(ctx, grad_log_probs, *unused):
            (grad_hidden,) = ctx.saved_tensors
            if grad_log_probs is None or grad_hidden.numel() == 0:
                return (None,) * 9
            grad = (grad_hidden * grad_log_probs.float()[:, None]).to(ctx.hidden_dtype)
            return (grad,) + (None,) * 8

    _FUSED = FusedLogProb
    return _FUSED


def install_trl_cpu_shim() -> bool:
    """Give TRL's fused LM head a PyTorch kernel where its Triton one is missing. Idempotent.

    Returns True when the shim is (now) in place, False when TRL has its real kernel.
    """
    try:
        from trl.trainer import utils as trl_utils
    except ImportError:
        return False
    kernel = getattr(trl_utils, "_ChunkedLogProbFunction", "absent")
    if kernel == "absent":
        return False  # a TRL without the fused head: nothing to do
    if kernel is None or kernel is _TorchChunkedLogProb:
        trl_utils._ChunkedLogProbFunction = _TorchChunkedLogProb
        return True
    if getattr(kernel, "_qwen3lab_dispatch", False):
        return True

    class _Dispatch:  # Triton present (a GPU machine): keep it for CUDA tensors, PyTorch elsewhere
        _qwen3lab_dispatch = True

        @staticmethod
        def apply(hidden, *args):
            if hidden.device.type in ("cuda", "xpu"):
                return kernel.apply(hidden, *args)
            return _TorchChunkedLogProb.apply(hidden, *args)

    trl_utils._ChunkedLogProbFunction = _Dispatch
    return True


# -- 05 training: machine-dependent arguments, response-only loss, memory -------------------------


def sft_dataset_num_proc(cfg: Config) -> int | None:
    """``dataset_num_proc`` for ``SFTConfig``: one process for small sets, in each library's own spelling.

    Unsloth's GPU trainer reads ``None`` as "one worker per core" (25 s on 64 rows, docs/gpu.md) and
    ``1`` as "in this process". Stock TRL, which the transformers backend and Unsloth's CPU backend
    use, reads ``None`` as "in this process" and ``1`` as a pool of one forked worker (datasets >= 4.1).
    """
    if cfg.dataset_num_proc is not None:
        return cfg.dataset_num_proc
    return 1 if resolve_backend(cfg) == UNSLOTH and cuda_available() else None


def sft_backend_args(cfg: Config) -> dict[str, Any]:
    """The ``SFTConfig`` arguments that depend on the machine and backend rather than on the recipe.

    * Precision: bf16 on a GPU that has it, else fp16; on a CPU float32 and ``use_cpu`` (TRL's default
      ``bf16=True`` is refused there, and emulated bf16 would be slow).
    * Gradient checkpointing: TRL's ``SFTConfig`` turns it on by default, which would override
      ``cfg.use_gradient_checkpointing``; Unsloth's GPU trainer already follows the model's setting
      (its offloaded ``"unsloth"`` mode), everywhere else it is passed explicitly (``"unsloth"`` means
      plain recomputation there).
    * ``dataset_num_proc``: see ``sft_dataset_num_proc``.

    ``optim`` is left as configured: Unsloth's CPU backend replaces ``adamw_8bit`` by fused AdamW
    itself (and says so); bitsandbytes' 8-bit AdamW runs on a CPU for the transformers backend.
    """
    args: dict[str, Any] = {"dataset_num_proc": sft_dataset_num_proc(cfg)}
    if cuda_available():
        import torch

        bf16 = torch.cuda.is_bf16_supported()
        args.update(bf16=bf16, fp16=not bf16)
    else:
        args.update(use_cpu=True, bf16=False, fp16=False)
    if not (resolve_backend(cfg) == UNSLOTH and cuda_available()):
        checkpointing = bool(cfg.use_gradient_checkpointing)
        args["gradient_checkpointing"] = checkpointing
        if checkpointing:
            args["gradient_checkpointing_kwargs"] = {"use_reentrant": False}
    return args


def response_only_labels(input_ids: list[int], response_ids: list[int], end_id: int) -> list[int]:
    """Labels that keep only the assistant's turns: -100 everywhere else.

    A turn starts after each occurrence of ``response_ids`` (the tokens of
    ``"<|im_start|>assistant\\n"``) and ends with ``end_id`` (``<|im_end|>``, kept so the model learns
    to stop), or at the end of a truncated row. The same spans Unsloth's ``train_on_responses_only``
    keeps for the Qwen3 template (tests/test_train.py compares the two).
    """
    labels = [-100] * len(input_ids)
    width, i = len(response_ids), 0
    while i + width <= len(input_ids):
        if input_ids[i:i + width] != response_ids:
            i += 1
            continue
        start = end = i + width
        while end < len(input_ids) and input_ids[end] != end_id:
            end += 1
        end = min(end + 1, len(input_ids))  # include the end token when it is there
        labels[start:end] = input_ids[start:end]
        i = end
    return labels


def train_on_responses_only(trainer, cfg: Config, *, instruction_part: str, response_part: str):
    """Mask everything but the assistant's replies in ``trainer.train_dataset``'s labels.

    Unsloth: its own ``train_on_responses_only`` (the source tutorial's call). transformers: our
    ``response_only_labels``. Why not TRL's ``assistant_only_loss=True``? It needs ``{% generation %}``
    markers that Qwen3's template lacks; TRL 1.15 then swaps in its own training variant of the
    template, which works only on conversational ``messages`` rows and renders a ``<think>`` block
    into every assistant turn. Our rows are already rendered text (notebook 04) and must be trained
    token for token as written, on both backends, so the mask is computed on the token ids instead.
    """
    if resolve_backend(cfg) == UNSLOTH:
        from unsloth.chat_templates import train_on_responses_only as unsloth_train_on_responses_only

        return unsloth_train_on_responses_only(trainer, instruction_part=instruction_part,
                                               response_part=response_part, num_proc=1)
    tokenizer = trainer.processing_class
    response_ids = tokenizer(response_part, add_special_tokens=False)["input_ids"]
    end_id = tokenizer.eos_token_id

    def mask(example):
        return {"labels": response_only_labels(example["input_ids"], response_ids, end_id)}

    trainer.train_dataset = trainer.train_dataset.map(mask, desc="Masking all but the assistant's replies")
    return trainer


def keep_cpu_adapters_float32(model) -> int:
    """Trap: TRL 1.15's ``SFTTrainer`` casts a quantized model's LoRA weights to bfloat16 (the QLoRA
    paper's advice, for GPUs). On a CPU, which computes in float32 here, that only rounds the
    weights and runs every LoRA matmul in bfloat16, so a reloaded float32 adapter no longer gives
    the same logits. Put them back to float32 there (a no-op on a GPU). Returns the tensors changed.
    """
    import torch

    if cuda_available():
        return 0
    changed = 0
    for param in model.parameters():
        if param.requires_grad and param.dtype == torch.bfloat16:
            param.data = param.data.float()
            changed += 1
    return changed


def memory_stats() -> dict[str, Any]:
    """Memory this process holds now and at its peak, in GiB, and the peak's share of the device.

    GPU: memory reserved by PyTorch's allocator (what ``nvidia-smi`` shows for the process, less the
    CUDA context); the peak since ``reset_peak_memory``. CPU: resident set size (psutil); the peak
    since the process started (the kernel keeps no resettable peak).
    """
    gib = 2**30
    if cuda_available():
        import torch

        total = torch.cuda.get_device_properties(0).total_memory
        now, peak = torch.cuda.memory_reserved(), torch.cuda.max_memory_reserved()
        device = torch.cuda.get_device_name(0)
    else:
        import resource

        import psutil

        total = psutil.virtual_memory().total
        now = psutil.Process().memory_info().rss
        peak = max(now, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)  # KiB on Linux
        device = "CPU (RSS)"
    return {"device": device, "now_gib": round(now / gib, 3), "peak_gib": round(peak / gib, 3),
            "total_gib": round(total / gib, 1), "peak_share": round(peak / total, 4)}


def reset_peak_memory() -> None:
    """Start a new peak for ``memory_stats`` (GPU only; a CPU process keeps its lifetime peak)."""
    if cuda_available():
        import torch

        torch.cuda.reset_peak_memory_stats()


# -- 06 saving: reloading an adapter, merging it ------------------------------------------------


def _adapter_base(adapter_dir: str) -> str:
    import json

    with open(os.path.join(adapter_dir, "adapter_config.json"), encoding="utf-8") as fh:
        return json.load(fh)["base_model_name_or_path"]


def load_adapter_model(cfg: Config, adapter_dir: str, *, load_in_4bit: bool | None = None) -> tuple[Any, Any]:
    """(model, tokenizer): the adapter's base model, loaded fresh, with the adapter on top.

    The base is the one ``adapter_config.json`` names; ``load_in_4bit`` defaults to ``cfg``'s.
    Unsloth finds the base itself when given the adapter folder (the source tutorial's reload).
    """
    cfg = cfg if load_in_4bit is None else cfg.replace(load_in_4bit=load_in_4bit)
    if resolve_backend(cfg) == UNSLOTH:
        return load_pretrained(cfg, str(adapter_dir))
    from peft import PeftModel
    from transformers import AutoTokenizer

    base, _ = load_pretrained(cfg, _adapter_base(adapter_dir))
    return PeftModel.from_pretrained(base, str(adapter_dir)), AutoTokenizer.from_pretrained(str(adapter_dir))


def merged_dtype():
    """The 16-bit dtype a merged model is saved in by the transformers backend: Qwen3's own bfloat16."""
    import torch

    return torch.bfloat16


def save_merged(model, tokenizer, cfg: Config, out_dir: str) -> None:
    """Merge the adapter into the base weights and save a plain 16-bit model into ``out_dir``.

    Unsloth: ``save_pretrained_merged(..., save_method="merged_16bit")`` (its CPU backend stores
    float16 where the CPU has no native bfloat16). transformers: PEFT's ``merge_and_unload``, cast
    to ``merged_dtype()``. ``model`` is consumed (merged in place on the transformers backend).
    """
    if resolve_backend(cfg) == UNSLOTH:
        model.save_pretrained_merged(str(out_dir), tokenizer, save_method="merged_16bit")
        return
    merged = model.merge_and_unload().to(merged_dtype())
    merged.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))


def merged_compute_dtype():
    """The dtype to run a reloaded merged model in: its stored 16-bit type on a GPU, float32 on a CPU."""
    import torch

    return "auto" if cuda_available() else torch.float32


def device_map() -> dict[str, int] | None:
    """Where a plain ``from_pretrained`` should put a model: GPU 0 when there is one."""
    return {"": 0} if cuda_available() else None


__all__ = ["BackendError", "bootstrap", "check_environment", "device_summary", "resolve_backend"]
