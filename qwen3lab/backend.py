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


def load_pretrained(cfg: Config, model_path: str) -> tuple[Any, Any]:
    """(model, tokenizer) from ``model_path`` with the backend ``cfg`` resolves to."""
    if resolve_backend(cfg) == UNSLOTH:
        from unsloth import FastLanguageModel

        model, tokenizer = FastLanguageModel.from_pretrained(
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


def load_base_for_merge(cfg: Config, model_path: str) -> tuple[Any, Any]:
    """The base model unquantized (16-bit on a GPU, float32 on a CPU), to merge an adapter into."""
    return load_pretrained(cfg.replace(load_in_4bit=False), model_path)


# -- LoRA and training ----------------------------------------------------------------------


def get_peft_model(model, cfg: Config, target_modules: list[str]):
    """Attach LoRA adapters with the backend's own call."""
    if resolve_backend(cfg) == UNSLOTH:
        from unsloth import FastLanguageModel

        return FastLanguageModel.get_peft_model(
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
        from unsloth import FastLanguageModel

        FastLanguageModel.for_inference(model)
    model.eval()
    return model


def for_training(model, cfg: Config):
    if resolve_backend(cfg) == UNSLOTH:
        from unsloth import FastLanguageModel

        FastLanguageModel.for_training(model)
    model.train()
    return model


# -- trap 1: TRL's Triton-only fused LM head -----------------------------------------------------


class _TorchChunkedLogProb:
    """Plain-PyTorch stand-in for TRL's Triton ``ChunkedLogProbFunction`` (same call signature).

    TRL 1.15.0 calls ``apply(hidden, weight, bias, labels, temperature, chunk_size, softcap,
    logit_scale, outputs)`` and expects per-token (log_probs, entropy, log_sum_sq_probs,
    mean_logits, is_top1), each None unless requested (log_probs always). Autograd does the
    backward; chunking bounds the (tokens x vocab) logits kept at once.
    """

    @staticmethod
    def apply(hidden, weight, bias, labels, temperature, chunk_size, softcap, logit_scale, outputs):
        import torch

        fields = ("log_probs", "entropy", "log_sum_sq_probs", "mean_logits", "is_top1")
        parts: dict[str, list] = {name: [] for name in fields}
        chunk = int(chunk_size or 1024)
        for start in range(0, hidden.shape[0], chunk):
            logits = torch.nn.functional.linear(hidden[start:start + chunk], weight, bias).float()
            logits = logits * logit_scale
            if softcap:
                logits = softcap * torch.tanh(logits / softcap)
            logits = logits / temperature
            logp = torch.log_softmax(logits, dim=-1)
            target = labels[start:start + chunk]
            parts["log_probs"].append(logp.gather(-1, target[:, None]).squeeze(-1))
            if "entropy" in outputs:
                parts["entropy"].append(-(logp.exp() * logp).sum(-1))
            if "log_sum_sq_probs" in outputs:
                parts["log_sum_sq_probs"].append(torch.logsumexp(2 * logp, dim=-1))
            if "mean_logits" in outputs:
                parts["mean_logits"].append(logits.mean(-1))
            if "is_top1" in outputs:
                parts["is_top1"].append(logits.argmax(-1) == target)
        result = []
        for name in fields:
            if name != "log_probs" and name not in outputs:
                result.append(None)
            elif parts[name]:
                result.append(torch.cat(parts[name]))
            else:  # no trainable token in this batch: keep the graph connected
                result.append(hidden.new_zeros(0) if name != "is_top1" else hidden.new_zeros(0, dtype=torch.bool))
        return tuple(result)


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


__all__ = ["BackendError", "bootstrap", "check_environment", "device_summary", "resolve_backend"]
