"""Loading the model for the active profile, and finding where LoRA can go.

Introduced in 01_model_inspection.
"""

from __future__ import annotations

from typing import Any

from . import backend
from .config import Config
from .tiny import build_tiny_model


def load_model(cfg: Config) -> tuple[Any, Any]:
    """(model, tokenizer) for ``cfg``: the tiny Qwen3 (built and cached on first use) or the Hub model.

    Checks the machine first (CUDA, Hub or cache) and fails at once with what to do.
    Introduced in 01_model_inspection.
    """
    backend.check_environment(cfg)
    path = str(build_tiny_model(cfg)) if cfg.uses_tiny_model else cfg.model_name
    return backend.load_pretrained(cfg, path)


def model_source(cfg: Config) -> str:
    """The folder or Hub id ``load_model`` reads from (builds the tiny model if needed)."""
    return str(build_tiny_model(cfg)) if cfg.uses_tiny_model else cfg.model_name


def decoder_layers(model) -> Any:
    """The list of decoder layers of a (possibly PEFT-wrapped) causal LM."""
    for candidate in (model, getattr(model, "base_model", None), getattr(getattr(model, "base_model", None), "model", None)):
        inner = getattr(candidate, "model", None)
        if inner is not None and hasattr(inner, "layers"):
            return inner.layers
    raise ValueError(f"cannot find decoder layers in {type(model).__name__}")


def lora_target_modules(model) -> list[str]:
    """Sorted short names of the linear layers inside the decoder layers (where LoRA goes).

    Found from the model, not typed in: every ``nn.Linear`` or bitsandbytes ``Linear4bit``/
    ``Linear8bitLt`` below a decoder layer. The LM head and embeddings are outside the layers and
    so are not included. Introduced in 01_model_inspection.
    """
    import torch

    names: set[str] = set()
    for layer in decoder_layers(model):
        for name, module in layer.named_modules():
            if not name:
                continue
            parts = name.split(".")
            if any(p == "base_layer" or p.startswith("lora_") for p in parts):
                continue  # PEFT's own sub-modules once adapters are attached
            if isinstance(module, torch.nn.Linear) or type(module).__name__ in ("Linear4bit", "Linear8bitLt"):
                names.add(parts[-1])
    return sorted(names)


__all__ = ["decoder_layers", "load_model", "lora_target_modules", "model_source"]
