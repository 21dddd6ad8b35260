"""Guards tools/rehearsal_hub.py and, on its tiny shape, the full profile's offline loading code paths.

Fails when the rehearsal hub stops having the Hub's cache layout (refs, snapshots, blob links, the
repo ids), when the 4-bit repo's config or tensors stop being a pre-quantized bitsandbytes
checkpoint (NF4 with its quant-state tensors, ``lm_head`` kept in 16 bits), when the full shape's
shards stop matching unsloth/Qwen3-8B's (4.90/4.92/4.98/1.58 GB), when a repo no longer says it
is a rehearsal copy, when it would replace a real repo in the cache, and, with
``HF_HUB_OFFLINE=1``, ``HF_DATASETS_OFFLINE=1`` and every socket connection refused, when any of these stops working on it: the preflight
``check_model_reachable``, ``FastLanguageModel.from_pretrained(..., load_in_4bit=True)`` (the
stored NF4 bytes, not a re-quantization), ``FastModel`` (the full profile's loader in 05),
``load_in_4bit=False`` resolving to unsloth/Qwen3-8B (06's merge), and ``load_dataset`` of both
sets with the real features.

The loading checks run in one fresh interpreter: huggingface_hub, datasets, transformers and
Unsloth read ``HF_HOME`` and the offline flags when they are imported, and this pytest process has
imported them already with the tiny profile's settings.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import rehearsal_hub as rh  # noqa: E402  (tools/rehearsal_hub.py)


@pytest.fixture(scope="module")
def hf_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("rehearsal") / "hf"
    assert set(rh.build(home, shape="tiny").values()) == {"written"}
    return home


def _snapshot(hf_home: Path, repo_id: str, kind: str = "models") -> Path:
    repo = hf_home / "hub" / f"{kind}--{repo_id.replace('/', '--')}"
    return repo / "snapshots" / (repo / "refs" / "main").read_text()


def test_cache_layout_and_rehearsal_notes(hf_home):
    for repo_id, kind in ((rh.QUANTIZED, "models"), (rh.BASE, "models"), (rh.REASONING, "datasets"), (rh.CHAT, "datasets")):
        snapshot = _snapshot(hf_home, repo_id, kind)
        files = [p for p in snapshot.rglob("*") if not p.is_dir()]
        assert files and all(p.is_symlink() and not os.path.isabs(os.readlink(p)) and p.resolve().is_file() for p in files)
        assert rh.NOTE in (snapshot / "README.md").read_text()
    for repo_id in (rh.QUANTIZED, rh.BASE):
        snapshot = _snapshot(hf_home, repo_id)
        assert json.loads((snapshot / "config.json").read_text())["rehearsal_copy"] == rh.NOTE
        assert {p.name for p in snapshot.iterdir()} >= {
            "config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "added_tokens.json", "vocab.json", "merges.txt"}
    prepared = list((hf_home / "datasets").glob("*/default/0.0.0/*/dataset_info.json"))
    assert len(prepared) == 2 and all(rh.NOTE in json.loads(p.read_text())["description"] for p in prepared)
    assert set(rh.build(hf_home, shape="tiny").values()) == {"kept"}  # a second call rewrites nothing


def test_quantized_checkpoint_is_bitsandbytes_nf4(hf_home):
    from safetensors import safe_open

    snapshot = _snapshot(hf_home, rh.QUANTIZED)
    quant = json.loads((snapshot / "config.json").read_text())["quantization_config"]
    assert (quant["quant_method"], quant["bnb_4bit_quant_type"], quant["bnb_4bit_use_double_quant"]) == ("bitsandbytes", "nf4", True)
    assert "lm_head" in quant["llm_int8_skip_modules"]  # a given list replaces transformers' default skips
    with safe_open(str(snapshot / "model.safetensors"), "pt") as f:
        dtypes = {name: f.get_slice(name).get_dtype() for name in f.keys()}
        packed = f.get_slice("model.layers.1.mlp.down_proj.weight").get_shape()
    q = "model.layers.0.self_attn.q_proj.weight"
    assert {k for k in dtypes if k.startswith(q)} == {q} | {f"{q}.{s}" for s in (
        "absmax", "nested_absmax", "nested_quant_map", "quant_map", "quant_state.bitsandbytes__nf4")}
    assert dtypes[q] == "U8" and dtypes["lm_head.weight"] == dtypes["model.embed_tokens.weight"] == "BF16"
    assert packed == [64 * 192 // 2, 1]


def test_full_shape_shards_like_the_hub_repo():
    """The 16-bit base's shards at the 8B shapes, computed without writing them."""
    shards, size = [], 0
    for _, dims, _ in rh.tensor_specs("full"):
        nbytes = 2 * math.prod(dims)
        if size and size + nbytes > rh.MAX_SHARD_BYTES:
            shards, size = shards + [size], 0
        size += nbytes
    assert [round(s / 1e9, 2) for s in shards + [size]] == [4.90, 4.92, 4.98, 1.58]


LOAD = r"""
import json, socket, sys
attempts = []
def refuse(self, address, *args, **kwargs):
    attempts.append(str(address))
    raise OSError(f"network blocked by tests/test_rehearsal_hub.py: {address}")
socket.socket.connect = refuse

import qwen3lab as q
import qwen3lab.machine as machine

q.setup()  # as a notebook's first cell
import torch
from datasets import load_dataset
from huggingface_hub import snapshot_download
from safetensors import safe_open
from unsloth import FastLanguageModel, FastModel

cfg = q.get_config("full")
out = {"offline": machine.os.environ.get("HF_HUB_OFFLINE")}
machine.check_model_reachable(cfg.model_name)
reasoning = load_dataset(cfg.reasoning_dataset, split=cfg.reasoning_split)
chat = load_dataset(cfg.chat_dataset, split=cfg.chat_split)
out["datasets"] = {name: [len(d), {k: repr(v) for k, v in d.features.items()}] for name, d in (("reasoning", reasoning), ("chat", chat))}

model, tokenizer = FastLanguageModel.from_pretrained(model_name=cfg.model_name, max_seq_length=cfg.max_seq_length,
                                                     dtype=None, load_in_4bit=True)
with safe_open(snapshot_download(cfg.model_name) + "/model.safetensors", "pt") as f:
    stored = f.get_tensor("model.layers.0.self_attn.q_proj.weight")
layer = model.model.layers[0].self_attn.q_proj
out["4bit"] = {"q_proj": type(layer).__name__, "stored_bytes": torch.equal(layer.weight.data.view(-1), stored.view(-1)),
               "lm_head": type(model.lm_head).__name__, "pad": tokenizer.pad_token,
               "logits": list(model(**tokenizer("hello", return_tensors="pt")).logits.shape)}
del model
model, _ = FastModel.from_pretrained(model_name=cfg.model_name, max_seq_length=cfg.max_seq_length, dtype=None, load_in_4bit=True)
out["fastmodel"] = type(model.model.layers[0].self_attn.q_proj).__name__
del model
model, _ = FastLanguageModel.from_pretrained(model_name=cfg.model_name, max_seq_length=cfg.max_seq_length,
                                             dtype=None, load_in_4bit=False)
out["16bit"] = [model.config.name_or_path, type(model.model.layers[0].self_attn.q_proj).__name__, str(model.dtype)]
from unsloth_zoo.cpu import cpu_bf16_supported  # dtype=None on a CPU: bfloat16 where it has bf16 instructions
out["16bit_dtype"] = str(torch.bfloat16 if cpu_bf16_supported() else torch.float32)
out["attempts"] = attempts
print("RESULT " + json.dumps(out))
"""


def test_full_profile_loads_offline(hf_home, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "QWEN3LAB_"))}
    env.update(HF_HOME=str(hf_home), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", QWEN3LAB_PROFILE="full",
               QWEN3LAB_HOME=str(tmp_path / "artifacts"), HF_HUB_DISABLE_PROGRESS_BARS="1")
    proc = subprocess.run([sys.executable, "-c", LOAD], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT "):])
    string = "Value('string')"
    assert out["datasets"]["reasoning"] == [rh.ROWS["tiny"]["reasoning"], {c: string for c in rh.synth.REASONING_COLUMNS}]
    assert out["datasets"]["chat"] == [rh.ROWS["tiny"]["chat"], {
        "conversations": "List({'from': Value('string'), 'value': Value('string')})", "source": string,
        "score": "Value('float64')"}]
    assert out["4bit"] == {"q_proj": "Linear4bit", "stored_bytes": True, "lm_head": "Linear", "pad": "<|vision_pad|>",
                           "logits": [1, 1, rh.VOCAB]}
    assert out["fastmodel"] == "Linear4bit"
    assert out["16bit"] == [rh.BASE, "Linear", out["16bit_dtype"]]
    assert out["attempts"] == []


def test_a_real_repo_in_the_cache_is_never_replaced(tmp_path):
    real = tmp_path / "hub" / "models--unsloth--Qwen3-8B" / "snapshots" / ("0" * 40)
    real.mkdir(parents=True)
    (real / "README.md").write_text("the real model card\n")
    assert rh.build_repo(tmp_path, rh.BASE, "tiny", 3407) == "real copy, kept"
    assert [p.name for p in real.parent.iterdir()] == ["0" * 40]


def test_the_4bit_repo_is_the_bases_nf4_quantization(hf_home):
    """Both models come from one draw per tensor: the 4-bit repo's bytes are bitsandbytes' NF4 of
    the base's bf16 weights (so 06's merge from the base and 05's 4-bit training see one model)."""
    import bitsandbytes.functional as bnbf
    import torch
    from safetensors import safe_open

    name = "model.layers.1.mlp.down_proj.weight"
    with safe_open(str(_snapshot(hf_home, rh.BASE) / "model.safetensors"), "pt") as f:
        base = {n: f.get_tensor(n) for n in (name, "model.embed_tokens.weight", "lm_head.weight")}
    with safe_open(str(_snapshot(hf_home, rh.QUANTIZED) / "model.safetensors"), "pt") as f:
        packed = f.get_tensor(name)
        kept = {n: f.get_tensor(n) for n in ("model.embed_tokens.weight", "lm_head.weight")}
        absmax = f.get_tensor(name + ".absmax")
    again, state = bnbf.quantize_4bit(base[name], blocksize=64, compress_statistics=True, quant_type="nf4",
                                      quant_storage=torch.uint8)
    assert torch.equal(again, packed) and torch.equal(state.as_dict(packed=True)["absmax"], absmax)
    assert all(torch.equal(base[n], kept[n]) for n in kept)  # the unquantized tensors are the same bytes
    assert base[name].dtype == torch.bfloat16 and 0.015 < float(base[name].float().std()) < 0.025
