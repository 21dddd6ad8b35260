"""Saving the LoRA adapter, reloading it, merging it into a 16-bit model, and checking each by logits.

Each save goes through ``atomic_dir`` (an interrupted save leaves the previous artifact intact)
and writes a ``manifest.json``, plus ``probe_logits.safetensors``: the logits of the model that was
saved, on two fixed prompts, computed before saving. A later stage reloads the folder in a new
process and compares its own logits with them, so "the reloaded model is the trained one" is a
measured fact rather than a hope.

Introduced in 05_lora_training (``save_adapter``) and 06_saving_and_chat (the rest).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import backend
from .artifacts import atomic_dir, read_manifest, require, stage_dir, write_manifest
from .chat import render_chat
from .config import Config

if TYPE_CHECKING:
    import pandas as pd
    import torch

PROBE_FILE = "probe_logits.safetensors"
#: The probe: one question, rendered with thinking off and on (the two prompts differ in their ends).
PROBE_MESSAGES = [{"role": "user", "content": "What is 1 + 1?"}]

#: Reloading the same weights at the same precision must give the same logits (up to kernel order).
RELOAD_TOLERANCE = 1e-4
#: Storing merged weights in 16 bits rounds each to about 3 significant digits, and a model that
#: also computes in bfloat16 (on a GPU) rounds every activation too: the logits move by a small
#: fraction of their own scale. Relative to max |logit|, by the dtype the merged model computes in.
MERGE_RELATIVE_TOLERANCE = {"float32": 2e-2, "bfloat16": 8e-2, "float16": 8e-2}


# -- logits -------------------------------------------------------------------------------------


def probe_prompts(tokenizer) -> list[str]:
    """The probe prompts: ``PROBE_MESSAGES`` with thinking off, then on. Introduced in 06_saving_and_chat."""
    return [render_chat(tokenizer, PROBE_MESSAGES, enable_thinking=thinking) for thinking in (False, True)]


def probe_logits(model, tokenizer) -> "torch.Tensor":
    """Float32 logits at the last position of each probe prompt, shape (2, vocab), on the CPU.

    One prompt at a time (no padding), no cache, in eval mode. Introduced in 06_saving_and_chat.
    """
    import torch

    was_training = model.training
    model.eval()
    rows = []
    with torch.no_grad():
        for prompt in probe_prompts(tokenizer):
            ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"].to(model.device)
            rows.append(model(input_ids=ids, use_cache=False).logits[0, -1].float().cpu())
    if was_training:
        model.train()
    return torch.stack(rows)


def save_probe(logits: "torch.Tensor", out_dir: str | Path) -> None:
    from safetensors.torch import save_file

    save_file({"logits": logits.contiguous()}, str(Path(out_dir) / PROBE_FILE))


def stored_probe(path: str | Path) -> "torch.Tensor":
    """The probe logits saved beside an artifact. Introduced in 06_saving_and_chat."""
    from safetensors.torch import load_file

    file = Path(path) / PROBE_FILE
    if not file.is_file():
        raise FileNotFoundError(f"{file} is missing: re-run the notebook that wrote {Path(path).name}/")
    return load_file(str(file))["logits"]


def max_logit_diff(a: "torch.Tensor", b: "torch.Tensor") -> float:
    """max |a - b| over every position and vocabulary entry. Introduced in 06_saving_and_chat."""
    if a.shape != b.shape:
        raise ValueError(f"logits of different shapes {tuple(a.shape)} and {tuple(b.shape)}: same tokenizer?")
    return float((a.float() - b.float()).abs().max())


def merge_tolerance(reference: "torch.Tensor", compute_dtype: Any = "float32") -> float:
    """The allowed max |difference| between merged and adapter logits: ``MERGE_RELATIVE_TOLERANCE``
    for the dtype the merged model computes in, times the largest |logit| of the reference (and
    never below ``RELOAD_TOLERANCE``). Measured on the tiny profile: 2e-4 to 3e-3 relative on a CPU,
    6e-3 on an H100 (both computing in float32). Introduced in 06_saving_and_chat."""
    rel = MERGE_RELATIVE_TOLERANCE[str(compute_dtype).replace("torch.", "")]
    return max(RELOAD_TOLERANCE, rel * float(reference.abs().max()))


# -- the adapter ----------------------------------------------------------------------------------


def save_adapter(model, tokenizer, cfg: Config, out_dir: str | Path | None = None, *,
                 inputs: dict[str, Any] | None = None) -> Path:
    """Save the LoRA adapter (weights, ``adapter_config.json``), the tokenizer, the probe logits and
    a manifest into ``out_dir`` (default ``stage_dir("adapter")``), atomically. Returns the folder.

    Introduced in 05_lora_training.
    """
    out_dir = Path(out_dir) if out_dir else stage_dir("adapter")
    logits = probe_logits(model, tokenizer)
    dtype = adapter_dtype(model)
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        save_probe(logits, tmp)
        write_manifest(tmp, what="LoRA adapter + tokenizer (load onto the base named in adapter_config.json)",
                       cfg=cfg, inputs=inputs or {}, extra={"probe": PROBE_MESSAGES, "adapter_dtype": dtype})
    return out_dir


def adapter_dtype(model) -> str:
    """The dtype the LoRA weights are computed in ("float32", "bfloat16"...). Introduced in 05_lora_training."""
    dtypes = {str(p.dtype).replace("torch.", "") for n, p in model.named_parameters() if "lora_" in n}
    if len(dtypes) != 1:
        raise ValueError(f"expected LoRA weights of one dtype, found {sorted(dtypes) or 'no LoRA weights'}")
    return dtypes.pop()


def _set_adapter_dtype(model, dtype: str) -> None:
    import torch

    for name, param in model.named_parameters():
        if "lora_" in name:
            param.data = param.data.to(getattr(torch, dtype))


def load_adapter(cfg: Config, adapter_dir: str | Path | None = None, *,
                 load_in_4bit: bool | None = None) -> tuple[Any, Any]:
    """(model, tokenizer): a fresh base model with the saved adapter on top, in eval mode.

    ``adapter_dir`` defaults to the adapter notebook 05 saved; ``load_in_4bit`` to ``cfg``'s.
    Introduced in 06_saving_and_chat.
    """
    adapter_dir = Path(adapter_dir) if adapter_dir else require("adapter")
    model, tokenizer = backend.load_adapter_model(cfg, str(adapter_dir), load_in_4bit=load_in_4bit)
    # PEFT loads adapter weights in float32; compute in the dtype they were trained and saved in.
    _set_adapter_dtype(model, read_manifest(adapter_dir).get("adapter_dtype") or adapter_dtype(model))
    tokenizer.padding_side = "left"  # as load_model: generation pads before the prompt
    return backend.for_inference(model, cfg), tokenizer


# -- the merged model ---------------------------------------------------------------------------


def merge_and_save(cfg: Config, adapter_dir: str | Path | None = None, out_dir: str | Path | None = None) -> Path:
    """Merge the saved adapter into its base and save a plain 16-bit model (atomically, with the
    probe logits of the unmerged model and a manifest) into ``out_dir`` (default ``stage_dir("merged")``).

    The base is loaded fresh and unquantized, on every machine. On a GPU, Unsloth's ``merged_16bit``
    from a 4-bit model merges into the base's original 16-bit weights when it finds them (it did for
    a local base on the GPU machine), so the merge would differ from the 4-bit adapter model by the
    NF4 quantization error (0.074 in logits there, against a 0.017 tolerance); merging from the
    unquantized base makes the model whose probe logits are stored the one that is merged. On a
    CPU, Unsloth refuses to merge into a 4-bit model (``NotImplementedError``), and PEFT's
    ``merge_and_unload`` into bitsandbytes' CPU 4-bit layers is what trap 2 breaks.
    Introduced in 06_saving_and_chat.
    """
    adapter_dir = Path(adapter_dir) if adapter_dir else require("adapter")
    out_dir = Path(out_dir) if out_dir else stage_dir("merged")
    model, tokenizer = backend.load_adapter_model(cfg, str(adapter_dir), load_in_4bit=False)
    logits = probe_logits(model, tokenizer)
    with atomic_dir(out_dir) as tmp:
        backend.save_merged(model, tokenizer, cfg, str(tmp))
        save_probe(logits, tmp)
        write_manifest(tmp, what="base + LoRA merged into 16-bit weights (plain transformers model)", cfg=cfg,
                       inputs={"adapter": str(adapter_dir), "adapter_created": read_manifest(adapter_dir)["created"]},
                       extra={"base_loaded_in_4bit": False, "probe": PROBE_MESSAGES})
    del model
    return out_dir


def load_merged(cfg: Config, merged_dir: str | Path | None = None) -> tuple[Any, Any]:
    """(model, tokenizer) of the merged folder with plain transformers ``AutoModelForCausalLM``:
    no PEFT, no Unsloth. Float32 on a CPU, its stored 16-bit type on a GPU. Introduced in 06_saving_and_chat."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    merged_dir = Path(merged_dir) if merged_dir else require("merged")
    model = AutoModelForCausalLM.from_pretrained(str(merged_dir), dtype=backend.merged_compute_dtype(),
                                                 device_map=backend.device_map())
    tokenizer = AutoTokenizer.from_pretrained(str(merged_dir))
    tokenizer.padding_side = "left"
    return model.eval(), tokenizer


# -- chatting before and after ------------------------------------------------------------------------


def before_after_table(model, tokenizer, messages: list[dict[str, Any]], *, merged: tuple[Any, Any] | None = None,
                       max_new_tokens: int = 128, **chat_kwargs: Any) -> "pd.DataFrame":
    """Replies to ``messages`` with thinking on and off (rows), side by side (columns): before
    training (the adapter model with its adapter switched off: the base), after training (adapter
    on), and from the merged model when ``merged=(model, tokenizer)`` is given.

    Each reply comes from ``chat`` with the same seed. Introduced in 06_saving_and_chat.
    """
    import pandas as pd

    from .chat import chat

    def reply(m, tok, thinking):
        return chat(m, tok, messages, enable_thinking=thinking, max_new_tokens=max_new_tokens, **chat_kwargs)

    rows = {}
    for thinking in (True, False):
        with model.disable_adapter():
            row = {"before (base)": reply(model, tokenizer, thinking)}
        row["after (adapter)"] = reply(model, tokenizer, thinking)
        if merged is not None:
            row["after (merged)"] = reply(*merged, thinking)
        rows[f"thinking {'on' if thinking else 'off'}"] = row
    return pd.DataFrame.from_dict(rows, orient="index")


# -- looking at folders ---------------------------------------------------------------------------


def folder_table(path: str | Path) -> "pd.DataFrame":
    """The files of a folder with their sizes (bytes and MiB), largest first. Introduced in 06_saving_and_chat."""
    import pandas as pd

    files = sorted((p for p in Path(path).rglob("*") if p.is_file()), key=lambda p: -p.stat().st_size)
    rows = [{"file": str(p.relative_to(path)), "bytes": p.stat().st_size,
             "MiB": round(p.stat().st_size / 2**20, 3)} for p in files]
    return pd.DataFrame(rows, columns=["file", "bytes", "MiB"]).set_index("file")


__all__ = ["MERGE_RELATIVE_TOLERANCE", "PROBE_FILE", "PROBE_MESSAGES", "RELOAD_TOLERANCE", "adapter_dtype",
           "before_after_table", "folder_table", "load_adapter", "load_merged", "max_logit_diff", "merge_and_save",
           "merge_tolerance", "probe_logits", "probe_prompts", "save_adapter", "stored_probe"]
