"""Notebook 06's reload check across Unsloth's two loaders, on the model of the active profile (CUDA).

    QWEN3LAB_PROFILE=full python benchmarks/probe_reload_loaders.py [--out reload.json]

Loads the profile's 4-bit model with ``FastModel`` (the full profile's loader in notebook 05), adds
LoRA with ``get_peft_model`` and draws its B matrices (std 0.01, so that the adapter changes the
logits), takes notebook 06's probe logits (``q.probe_logits``: the last position of the two probe
prompts) and saves the adapter. Then reloads the adapter folder with ``FastLanguageModel`` (the
source's loader, which notebook 06 used first) and with ``FastModel``, and prints each probe's
largest |difference| from the saved one, also in bfloat16 units in the last place of the largest
|logit|, with the adapter on and off. ``FastModel`` is also put in inference mode and generates
16 tokens (notebook 06's chat test). On the rehearsal hub it runs offline: set HF_HOME,
HF_HUB_OFFLINE=1 and HF_DATASETS_OFFLINE=1. On a CPU, Unsloth's two loaders are one class.
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time

import torch
from unsloth import FastLanguageModel, FastModel

import qwen3lab as q
from qwen3lab.export import ulp

q.bootstrap()


def add_drawn_lora(model, cfg):
    """LoRA on ``model`` through ``FastModel.get_peft_model`` with the profile's settings, its B
    matrices drawn (std 0.01, seed 0) so that the adapter moves the logits (B starts at zero)."""
    model = FastModel.get_peft_model(model, r=cfg.r, target_modules=list(cfg.target_modules),
                                     lora_alpha=cfg.lora_alpha, lora_dropout=0.0, bias="none",
                                     use_gradient_checkpointing="unsloth", random_state=cfg.random_state,
                                     use_rslora=False, loftq_config=None)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_((torch.randn(p.shape, generator=generator) * 0.01).to(p.dtype))
    return model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=None, help="write the table as JSON here")
    args = parser.parse_args()
    cfg = q.get_config()
    probes: dict[str, torch.Tensor] = {}

    def load(loader, label: str, name: str):
        start = time.perf_counter()
        model, tokenizer = loader.from_pretrained(model_name=name, max_seq_length=cfg.max_seq_length, dtype=None,
                                                  load_in_4bit=True)
        print(f"{label} from {name}: {time.perf_counter() - start:.1f} s", flush=True)
        return model, tokenizer

    def take(model, tokenizer, key: str) -> None:
        probes[key] = q.probe_logits(model, tokenizer)
        probes[key + ", again"] = q.probe_logits(model, tokenizer)  # the same process: deterministic?
        with model.disable_adapter():
            probes[key + ", adapter off"] = q.probe_logits(model, tokenizer)

    def drop(model) -> None:
        del model
        gc.collect()
        torch.cuda.empty_cache()

    with tempfile.TemporaryDirectory() as adapter:
        model, tokenizer = load(FastModel, "FastModel", q.model_name_or_path(cfg))
        model = add_drawn_lora(model, cfg)
        model.train()  # as notebook 05 leaves it after training
        take(model, tokenizer, "saved (FastModel)")
        model.save_pretrained(adapter)
        tokenizer.save_pretrained(adapter)
        drop(model)

        for label, loader in (("FastLanguageModel", FastLanguageModel), ("FastModel", FastModel)):
            model, tokenizer = load(loader, label, adapter)
            take(model, tokenizer, f"reloaded by {label}")
            if label == "FastModel":
                loader.for_inference(model)
                text = tokenizer.apply_chat_template([{"role": "user", "content": "Solve (x + 2)^2 = 0."}],
                                                     tokenize=False, add_generation_prompt=True, enable_thinking=True)
                out = model.generate(**tokenizer(text, return_tensors="pt").to(model.device), max_new_tokens=16,
                                     **q.SAMPLING[True])
                print(f"FastModel.for_inference, then generate: {out.shape[1]} tokens", flush=True)
            drop(model)

    saved = probes["saved (FastModel)"]
    top = float(saved.abs().max())
    unit = ulp(top, "bfloat16")
    print(f"largest |logit| {top:.4g}; one bfloat16 unit there {unit:.4g}; notebook 06's tolerance "
          f"{q.reload_tolerance(saved, torch.bfloat16):.4g}")
    rows = {}
    for key, logits in probes.items():
        against = "saved (FastModel), adapter off" if key.endswith("adapter off") else "saved (FastModel)"
        diff = q.max_logit_diff(logits, probes[against])
        rows[key] = {"against": against, "max |diff|": round(diff, 5), "bf16 units": round(diff / unit, 2)}
        print(f"{key:<42} vs {against:<32} {diff:>9.4g} {diff / unit:>7.2f} units", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"largest |logit|": top, "bf16 unit": unit, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
