"""The machine the series runs on: the process set up for the profile, the device, and memory.

``setup`` (a notebook's first cell) tells the Hugging Face libraries to stay offline for the tiny
profile before they are imported, and imports Unsloth before transformers, TRL and PEFT so that its
patches apply. ``import qwen3lab`` itself does none of this. Introduced in 00_setup.
"""

from __future__ import annotations

import os
from typing import Any

from .config import Config, get_config


class MachineError(RuntimeError):
    """The profile cannot run on this machine (no GPU, no model in reach)."""


def setup(profile: str | None = None, **overrides: Any) -> Config:
    """The active config, with the process prepared for it (``bootstrap``): call it before datasets,
    transformers, TRL or PEFT are imported. Introduced in 00_setup."""
    cfg = get_config(profile, **overrides)
    bootstrap(cfg)
    return cfg


def bootstrap(cfg: Config | None = None) -> None:
    """Prepare the process for ``cfg`` (default: the active profile): offline environment for the
    tiny model, quieted notices, ``import unsloth``. Idempotent."""
    cfg = cfg or get_config()
    os.environ.setdefault("UNSLOTH_AUTO_INSTALL", "0")  # never apt-get / git clone from a notebook
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if cfg.uses_tiny_model:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    if not cfg.progress_bars:  # read by datasets, huggingface_hub and transformers at import
        os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from .workarounds import quiet_bitsandbytes_kernels_notice, quiet_qwen_bos_notice

    quiet_bitsandbytes_kernels_notice()
    quiet_qwen_bos_notice()
    import unsloth  # noqa: F401  (must precede transformers, trl and peft)


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def check_environment(cfg: Config) -> None:
    """Fail at once, with what to do, when ``cfg`` cannot run here. Introduced in 00_setup."""
    if cfg.requires_cuda and not cuda_available():
        raise MachineError(
            f"profile {cfg.profile!r} needs a CUDA GPU (model {cfg.model_name}) and none is visible. "
            "Run the tiny profile instead (`make run`, or QWEN3LAB_PROFILE=tiny), or move to a GPU "
            "machine: see docs/gpu.md.")
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
        raise MachineError(
            f"{model_name} is not in the Hugging Face cache and HF_HUB_OFFLINE is set. Pre-fill the cache "
            f"on a machine with internet (`hf download {model_name}`, see docs/gpu.md) or unset HF_HUB_OFFLINE.")
    from huggingface_hub import model_info

    try:
        model_info(model_name, timeout=10)
    except Exception as exc:  # no network, DNS failure, gated repo...
        raise MachineError(
            f"{model_name} is not cached and the Hub cannot be reached ({type(exc).__name__}: {exc}). "
            "Connect to the internet, or pre-fill the cache and set HF_HUB_OFFLINE=1 (docs/gpu.md), "
            "or use the tiny profile.") from exc


def device_summary() -> dict[str, Any]:
    """The compute device: GPU name and memory, or CPU threads. Introduced in 00_setup."""
    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return {"device": "cuda", "name": props.name, "total_memory_gib": round(props.total_memory / 2**30, 1),
                "capability": f"{props.major}.{props.minor}", "bf16": torch.cuda.is_bf16_supported()}
    return {"device": "cpu", "name": "CPU", "threads": torch.get_num_threads(), "cores": os.cpu_count()}


def memory_stats() -> dict[str, Any]:
    """Memory this process holds now and at its peak, in GiB, and the peak's share of the device. GPU:
    PyTorch's reserved memory (the source's "Peak reserved memory"), the peak since ``reset_peak_memory``.
    CPU: the resident set size, the peak since the process started. Introduced in 05_lora_training."""
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
    """Start a new peak for ``memory_stats`` (GPU only). Introduced in 05_lora_training."""
    if cuda_available():
        import torch

        torch.cuda.reset_peak_memory_stats()


__all__ = ["MachineError", "bootstrap", "setup", "check_environment", "device_summary", "memory_stats",
           "reset_peak_memory"]
