"""Checking saved models by their logits, and looking at what was saved.

Beside each artifact notebooks 05 and 06 store ``probe_logits.safetensors``, the logits of the
model in memory on two fixed prompts; a later stage reloads the folder and compares its own logits
with them, within a tolerance that follows from the number types involved.

Introduced in 05_lora_training (``probe_logits``, ``save_probe``) and 06_saving_and_chat (the rest).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    import torch

PROBE_FILE = "probe_logits.safetensors"
#: The probe: one question, rendered with thinking off and on (the two prompts differ in their ends).
PROBE_MESSAGES = [{"role": "user", "content": "What is 1 + 1?"}]

#: Reloading the same weights at the same precision must give the same logits (up to kernel order).
RELOAD_TOLERANCE = 1e-4
#: Significant bits of each 16-bit type: one unit in the last place of x is
#: 2 ** (floor(log2 |x|) - (bits - 1)).
_SIGNIFICANT_BITS = {"bfloat16": 8, "float16": 11}
#: Merged weights stored in 16 bits (and, on a GPU, activations computed in bfloat16) move the logits
#: by a small fraction of their scale: the allowed max |difference| relative to max |logit|, by the
#: dtype the merged model computes in (benchmarks/probe_merge_rounding.py, probe_merge_loaders.py).
MERGE_RELATIVE_TOLERANCE = {"float32": 2e-2, "bfloat16": 8e-2, "float16": 8e-2}


def probe_prompts(tokenizer) -> list[str]:
    """The probe prompts: ``PROBE_MESSAGES`` with thinking off, then on. Introduced in 06_saving_and_chat."""
    return [tokenizer.apply_chat_template(PROBE_MESSAGES, tokenize=False, add_generation_prompt=True,
                                          enable_thinking=thinking) for thinking in (False, True)]


def probe_logits(model, tokenizer) -> "torch.Tensor":
    """Float32 logits at the last position of each probe prompt, shape (2, vocab), on the CPU; one
    prompt at a time (no padding), no cache, in eval mode. Introduced in 06_saving_and_chat."""
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
    """Store ``probe_logits`` beside an artifact (``probe_logits.safetensors``). Introduced in 05_lora_training."""
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


def reload_tolerance(reference: "torch.Tensor", compute_dtype: Any = "float32") -> float:
    """The allowed max |difference| between a reloaded model's logits and those stored at save time:
    ``RELOAD_TOLERANCE`` in float32; for a model computing in 16 bits, which may round its LoRA
    products differently after a reload (PEFT reloads the adapter in float32), two units in the last
    place of the largest |logit|. Introduced in 06_saving_and_chat."""
    dtype = str(compute_dtype).replace("torch.", "")
    if dtype not in _SIGNIFICANT_BITS:
        return RELOAD_TOLERANCE
    return max(RELOAD_TOLERANCE, 2 * ulp(float(reference.abs().max()), dtype))


def ulp(value: float, dtype: str) -> float:
    """One unit in the last place of ``|value|`` in the 16-bit type ``dtype`` ("bfloat16" or
    "float16"); 0 for 0. Introduced in 06_saving_and_chat."""
    if not value:
        return 0.0
    return 2.0 ** (math.floor(math.log2(abs(value))) - (_SIGNIFICANT_BITS[dtype] - 1))


def merge_tolerance(reference: "torch.Tensor", compute_dtype: Any = "float32") -> float:
    """The allowed max |difference| between merged and adapter logits: ``MERGE_RELATIVE_TOLERANCE``
    for the dtype the merged model computes in, times the largest |logit| of the reference (and
    never below ``RELOAD_TOLERANCE``). Introduced in 06_saving_and_chat."""
    rel = MERGE_RELATIVE_TOLERANCE[str(compute_dtype).replace("torch.", "")]
    return max(RELOAD_TOLERANCE, rel * float(reference.abs().max()))


def before_after_table(model, tokenizer, messages: list[dict[str, Any]], *, merged: tuple[Any, Any] | None = None,
                       max_new_tokens: int = 128) -> "pd.DataFrame":
    """Replies (``chat.reply``, same seed) to ``messages`` with thinking on and off (rows), side by
    side (columns): before training (the adapter switched off), after training (adapter on), and
    from the merged model when ``merged=(model, tokenizer)`` is given. Introduced in 06_saving_and_chat."""
    import pandas as pd

    from .chat import reply

    def ask(m, tok, thinking):
        return reply(m, tok, messages, enable_thinking=thinking, max_new_tokens=max_new_tokens)

    rows = {}
    for thinking in (True, False):
        with model.disable_adapter():
            row = {"before (base)": ask(model, tokenizer, thinking)}
        row["after (adapter)"] = ask(model, tokenizer, thinking)
        if merged is not None:
            row["after (merged)"] = ask(*merged, thinking)
        rows[f"thinking {'on' if thinking else 'off'}"] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def folder_table(path: str | Path) -> "pd.DataFrame":
    """The files of a folder with their sizes (bytes and MiB), largest first. Introduced in 06_saving_and_chat."""
    import pandas as pd

    files = sorted((p for p in Path(path).rglob("*") if p.is_file()), key=lambda p: -p.stat().st_size)
    rows = [{"file": str(p.relative_to(path)), "bytes": p.stat().st_size,
             "MiB": round(p.stat().st_size / 2**20, 3)} for p in files]
    return pd.DataFrame(rows, columns=["file", "bytes", "MiB"]).set_index("file")


__all__ = ["MERGE_RELATIVE_TOLERANCE", "PROBE_FILE", "PROBE_MESSAGES", "RELOAD_TOLERANCE", "before_after_table",
           "folder_table", "max_logit_diff", "merge_tolerance", "reload_tolerance", "probe_logits", "probe_prompts",
           "save_probe", "stored_probe"]
