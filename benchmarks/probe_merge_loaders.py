"""Notebook 06's merge check across Unsloth's two loaders, on the model of the active profile (CUDA).

    QWEN3LAB_PROFILE=full python benchmarks/probe_merge_loaders.py --work /tmp/merge-probe [--out merge.json]

Notebook 06 takes the probe logits (``q.probe_logits``) of base + adapter loaded in 16 bits, merges
with ``save_pretrained_merged(..., "merged_16bit")``, reloads the merged folder with plain
transformers and bounds the difference by ``q.merge_tolerance`` (a share of the largest |logit|).
That compares two forwards as well as the merge. This script measures both parts on the profile's
own model: it adds LoRA to the 4-bit model with ``FastModel`` (the full profile's loader in 05),
draws the B matrices (std 0.01, so the adapter moves the logits) and saves the adapter; then loads
it in 16 bits with ``FastLanguageModel`` (what 06 merges from) and with ``FastModel``, takes each
probe, merges once from ``FastLanguageModel`` (after ``q.use_cached_merge_base``, as 06 does), reloads the merged folder with
``AutoModelForCausalLM`` and prints each probe's largest |difference| from the merged model's, as
a share of the largest |logit| beside the tolerance, with the time of each step. Results are
printed as they come, so a run cut short still says what it reached. On the rehearsal hub it runs
offline (HF_HOME, HF_HUB_OFFLINE=1, HF_DATASETS_OFFLINE=1). On a CPU, the two loaders are one class.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import time
from pathlib import Path

import torch
from unsloth import FastLanguageModel, FastModel

import qwen3lab as q
from probe_reload_loaders import add_drawn_lora  # benchmarks/, beside this script


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", required=True, help="a folder for the adapter and the merged model (16 GB for the 8B)")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    cfg = q.get_config()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    adapter, merged_dir = work / "adapter", work / "merged"
    times: dict[str, float] = {}
    probes: dict[str, torch.Tensor] = {}

    def step(label: str, start: float) -> None:
        times[label] = round(time.perf_counter() - start, 1)
        print(f"{label}: {times[label]} s", flush=True)

    def drop(model) -> None:
        del model
        gc.collect()
        torch.cuda.empty_cache()

    start = time.perf_counter()
    model, tokenizer = FastModel.from_pretrained(model_name=q.model_name_or_path(cfg), max_seq_length=cfg.max_seq_length,
                                                 dtype=None, load_in_4bit=True)
    model = add_drawn_lora(model, cfg)
    model.save_pretrained(str(adapter))
    tokenizer.save_pretrained(str(adapter))
    drop(model)
    step("4-bit FastModel, LoRA drawn, adapter saved", start)

    from transformers import AutoModelForCausalLM, AutoTokenizer

    merged = None
    rows = {}
    for label, loader in (("FastLanguageModel", FastLanguageModel), ("FastModel", FastModel)):
        start = time.perf_counter()
        model16, tokenizer16 = loader.from_pretrained(model_name=str(adapter), max_seq_length=cfg.max_seq_length,
                                                      dtype=None, load_in_4bit=False)
        step(f"{label} 16-bit load", start)
        key = f"{label} (16-bit, before merging)"
        probes[key] = q.probe_logits(model16, tokenizer16)
        if merged is None:  # FastLanguageModel: what notebook 06 merges from, then reloads with transformers
            print("merging into", q.use_cached_merge_base(model16) or model16.config._name_or_path, flush=True)
            start = time.perf_counter()
            model16.save_pretrained_merged(str(merged_dir), tokenizer16, save_method="merged_16bit")
            step("save_pretrained_merged (merged_16bit)", start)
            size = sum(f.stat().st_size for f in merged_dir.glob("*.safetensors"))
            print(f"merged safetensors: {size / 1e9:.2f} GB", flush=True)
            drop(model16)
            start = time.perf_counter()
            merged = AutoModelForCausalLM.from_pretrained(str(merged_dir), dtype="auto",
                                                          device_map={"": 0} if torch.cuda.is_available() else None)
            merged_logits = q.probe_logits(merged, AutoTokenizer.from_pretrained(str(merged_dir)))
            step("transformers load of the merged folder, probe", start)
            top = float(merged_logits.abs().max())
            tolerance = q.merge_tolerance(merged_logits, merged.dtype)
            print(f"merged model: {merged.dtype}, largest |logit| {top:.4g}; notebook 06's tolerance "
                  f"{tolerance:.4g} ({tolerance / top:.1%} of it)", flush=True)
        else:
            drop(model16)
        diff = q.max_logit_diff(probes[key], merged_logits)
        rows[key] = {"max |diff|": round(diff, 5), "share of the largest |logit|": round(diff / top, 4),
                     "within tolerance": diff <= tolerance}
        print(f"{key:<42} vs merged (transformers): {diff:.4g} = {diff / top:.2%}  within: {diff <= tolerance}",
              flush=True)  # printed as it comes: a run cut short still says what it reached

    gap = q.max_logit_diff(*probes.values())
    print(f"FastLanguageModel vs FastModel, both 16-bit before merging: {gap:.4g} = {gap / top:.2%}", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"largest |logit|": top, "tolerance": tolerance, "rows": rows, "loaders' gap": gap,
                       "seconds": times}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
