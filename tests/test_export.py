"""Guards saving (05) and merging (06): an interrupted save leaves the previous adapter or merged
model intact; on both backends the adapter reloads onto a fresh base in a new process with
HF_HUB_OFFLINE=1 and gives the logits of the model that was saved, and the merged 16-bit model
loads with plain transformers and stays within the stated tolerance of base + adapter."""

import pytest

from conftest import last_json, run_python


def _lora_model(cfg):
    """The tiny model with LoRA whose B matrices are random (a fresh adapter would change nothing)."""
    import torch

    import qwen3lab as q

    model, tokenizer = q.load_model(cfg)
    model = q.add_lora(model, cfg)
    generator = torch.Generator().manual_seed(0)
    for name, param in model.named_parameters():
        if "lora_B" in name:
            param.data.normal_(std=0.05, generator=generator)
    return model, tokenizer


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_an_interrupted_save_keeps_the_previous_artifacts(home, monkeypatch):
    import qwen3lab as q
    from qwen3lab import backend

    cfg = q.get_config("tiny")
    model, tokenizer = _lora_model(cfg)
    adapter_dir = q.save_adapter(model, tokenizer, cfg)
    merged_dir = q.merge_and_save(cfg)
    before = _snapshot(adapter_dir), _snapshot(merged_dir)

    def crash_midway(self, save_directory, *args, **kwargs):
        with open(f"{save_directory}/adapter_model.safetensors", "wb") as fh:
            fh.write(b"half a file")
        raise KeyboardInterrupt("interrupted while saving")

    monkeypatch.setattr(type(model), "save_pretrained", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        q.save_adapter(model, tokenizer, cfg)

    def merge_crash(model, tokenizer, cfg, out_dir):
        with open(f"{out_dir}/model.safetensors", "wb") as fh:
            fh.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(backend, "save_merged", merge_crash)
    with pytest.raises(OSError, match="disk full"):
        q.merge_and_save(cfg)

    assert (_snapshot(adapter_dir), _snapshot(merged_dir)) == before
    assert sorted(p.name for p in home.iterdir() if p.name.startswith(".")) == []  # no temporary folders left


_SAVE = """
import json, sys
sys.path.insert(0, "tests")
import qwen3lab as q
from test_export import _lora_model
cfg = q.get_config("tiny")
model, tokenizer = _lora_model(cfg)
path = q.save_adapter(model, tokenizer, cfg)
print(json.dumps({"backend": q.BACKEND, "files": sorted(p.name for p in path.iterdir())}))
"""

_RELOAD = """
import json, os, torch, qwen3lab as q
from transformers import AutoModelForCausalLM
assert os.environ["HF_HUB_OFFLINE"] == "1"
cfg = q.get_config("tiny")
model, tokenizer = q.load_adapter(cfg)
saved = q.stored_probe(q.require("adapter"))
reloaded = q.probe_logits(model, tokenizer)
with model.disable_adapter():
    base = q.probe_logits(model, tokenizer)
merged_dir = q.merge_and_save(cfg)
plain = AutoModelForCausalLM.from_pretrained(str(merged_dir), dtype=torch.float32)
merged = q.probe_logits(plain, tokenizer)
reference = q.stored_probe(merged_dir)
print(json.dumps({"backend": q.BACKEND, "reload": q.max_logit_diff(reloaded, saved),
                  "base": q.max_logit_diff(base, saved), "merged": q.max_logit_diff(merged, reference),
                  "tolerance": q.merge_tolerance(reference, plain.dtype), "module": type(plain).__module__,
                  "peft": hasattr(plain, "peft_config"), "files": sorted(p.name for p in merged_dir.iterdir()),
                  "dtype": json.loads((merged_dir / "config.json").read_text()).get("dtype")}))
"""


@pytest.mark.parametrize("backend", ["unsloth", "transformers"])
def test_adapter_and_merged_model_reload_offline_in_a_new_process(backend, tmp_path):
    if backend == "unsloth":
        pytest.importorskip("unsloth")
    env = {"QWEN3LAB_BACKEND": backend, "QWEN3LAB_HOME": str(tmp_path / "home")}
    saved = last_json(run_python(_SAVE, env=env))
    assert saved["backend"] == backend
    assert {"adapter_config.json", "adapter_model.safetensors", "manifest.json", "probe_logits.safetensors",
            "tokenizer.json"} <= set(saved["files"])

    result = last_json(run_python(_RELOAD, env={**env, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}))
    assert result["reload"] <= 1e-4, result  # the same weights at the same precision: the same logits
    assert result["base"] > 1e-2, result  # and the adapter matters
    assert result["merged"] <= result["tolerance"], result
    assert result["module"] == "transformers.models.qwen3.modeling_qwen3" and not result["peft"]
    assert result["dtype"] in ("bfloat16", "float16")
    assert {"config.json", "model.safetensors", "manifest.json", "tokenizer.json"} <= set(result["files"])
    assert not any("adapter" in name for name in result["files"])
