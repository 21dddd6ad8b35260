"""One typed configuration for the whole series, its named profiles, and a user's own overrides.

Field names are the upstream argument names (Unsloth's ``FastLanguageModel``, PEFT's LoRA, TRL's
``SFTConfig``), so a cell reads ``r=cfg.r``. Every field has a one-line meaning, a type and a
range. A profile is a set of values, never a branch in the code. Over the profile apply, in order:
a TOML file named by ``$QWEN3LAB_CONFIG`` (``field = value`` lines, optionally ``profile = ...``),
``QWEN3LAB_<FIELD>`` variables (values written as in TOML; a bare word is a string), and keyword
arguments of ``get_config``. A bad key or value is a ``ConfigError`` naming the field, the value,
where it came from and what is allowed, so it fails at once instead of far away.

Introduced in 00_setup.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import operator
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple

import tomllib

#: The model name that means "build the tiny random-weight Qwen3 locally" (see ``tiny.py``).
TINY_MODEL_NAME = "qwen3lab/tiny-qwen3"
#: The two Hub data sets' layout with bundled rows, which ``datasets.load_dataset`` reads offline.
BUNDLED_HUB = Path(__file__).resolve().parent / "data" / "hub"

PROFILE_ENV = "QWEN3LAB_PROFILE"
CONFIG_ENV = "QWEN3LAB_CONFIG"
FIELD_ENV_PREFIX = "QWEN3LAB_"
#: Environment variables of the package that are not config fields.
_NOT_FIELDS = {"QWEN3LAB_PROFILE", "QWEN3LAB_CONFIG", "QWEN3LAB_HOME", "QWEN3LAB_FP8_FAST_ACCUM",
               "QWEN3LAB_LLAMA_CPP"}


class ConfigError(ValueError):
    """A configuration value, key, file or profile name that cannot be used."""


class ConfigValueError(ConfigError):
    """One field's value that cannot be used: the field, the value, where it came from (``at``) and
    what is allowed."""

    def __init__(self, fields: tuple[str, ...], value: Any, problem: str, allowed: str = "",
                 source: str = "Config()"):
        self.fields, self.value, self.problem, self.allowed = fields, value, problem, allowed
        self.source = source
        name, rule = fields[0], f"; allowed: {allowed}" if allowed else ""
        super().__init__(f"config field {name}={value!r} {problem} (from {source}){rule} "
                         f"[{name}: {_FIELDS[name].metadata['help']}]")

    def at(self, source: str) -> ConfigValueError:
        """The same error, naming where the value came from."""
        return ConfigValueError(self.fields, self.value, self.problem, self.allowed, source)


class _Rule(NamedTuple):
    """What a field's value must be beyond its type; ``names``: those a failing value is told the
    closest of."""

    test: Callable[[Any], bool]
    says: str
    names: tuple[str, ...] = ()


_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


def _number(low_op: str, low: float, high_op: str, high: float) -> _Rule:
    """A finite number within two bounds, e.g. ``_number(">", 0, "<=", 1)``."""
    return _Rule(lambda v: math.isfinite(v) and _OPS[low_op](v, low) and _OPS[high_op](v, high),
                 f"a number {low_op} {low:g} and {high_op} {high:g}")


def _at_least(low: int, high: int | None = None) -> _Rule:
    """An integer from ``low`` (to ``high``: a value past any machine's reach is a typo)."""
    if high is None:
        return _Rule(lambda v: v >= low, "a positive integer" if low == 1 else f"an integer >= {low}")
    return _Rule(lambda v: low <= v <= high, f"an integer from {low} to {high:,}")


def _one_of(*choices: Any) -> _Rule:
    # `v in choices` would take 1 for True and 0 for False: compare types too
    return _Rule(lambda v: any(v == c and type(v) is type(c) for c in choices),
                 "one of " + ", ".join(map(repr, choices)))


def _is_names(v: Any) -> bool:
    return 0 < len(v) == len(set(v)) and all(isinstance(n, str) and n.strip() == n != "" for n in v)


#: transformers 5.17's names (``OptimizerNames``, ``SchedulerType``), written out because this
#: module imports nothing heavy; tests/test_config.py checks them against transformers'.
OPTIMIZERS = ('adamw_torch', 'adamw_torch_fused', 'adamw_torch_xla', 'adamw_torch_npu_fused', 'adafactor',
              'adamw_anyprecision', 'adamw_torch_4bit', 'adamw_torch_8bit', 'ademamix', 'sgd', 'adagrad',
              'adamw_bnb_8bit', 'adamw_8bit', 'ademamix_8bit', 'lion_8bit', 'lion_32bit',
              'paged_adamw_32bit', 'paged_adamw_8bit', 'paged_ademamix_32bit', 'paged_ademamix_8bit',
              'paged_lion_32bit', 'paged_lion_8bit', 'rmsprop', 'rmsprop_bnb', 'rmsprop_bnb_8bit',
              'rmsprop_bnb_32bit', 'galore_adamw', 'galore_adamw_8bit', 'galore_adafactor',
              'galore_adamw_layerwise', 'galore_adamw_8bit_layerwise', 'galore_adafactor_layerwise', 'lomo',
              'adalomo', 'grokadamw', 'schedule_free_radam', 'schedule_free_adamw', 'schedule_free_sgd',
              'apollo_adamw', 'apollo_adamw_layerwise', 'stable_adamw')
SCHEDULERS = ('linear', 'cosine', 'cosine_with_restarts', 'polynomial', 'constant', 'constant_with_warmup',
              'inverse_sqrt', 'reduce_lr_on_plateau', 'cosine_with_min_lr', 'cosine_warmup_with_min_lr',
              'warmup_stable_decay', 'greedy')
#: llama.cpp's quantization types by the names llama-quantize takes (LLAMA_FTYPE_MOSTLY_<NAME>)
GGUF_TYPES = ("q8_0", "q6_k", "q5_k_m", "q5_k_s", "q5_0", "q4_k_m", "q4_k_s", "q4_0", "q3_k_m", "q2_k")

_ANY = _Rule(lambda v: True, "")  # every value of the type (a bool)
_NAME = _Rule(lambda v: v.strip() == v != "", "a non-empty string without spaces at its ends")
_SEED = _Rule(lambda v: 0 <= v < 2**32, "an integer from 0 to 2**32 - 1 (what numpy accepts as a seed)")
_MODULE_NAMES = _Rule(_is_names, 'a non-empty list of distinct module names, e.g. ["q_proj", "v_proj"]')
_GGUF_TYPES = _Rule(lambda v: _is_names(v) and set(v) <= set(GGUF_TYPES),
                    f"a non-empty list of distinct llama.cpp types from {list(GGUF_TYPES)}")
_OPTIM = _Rule(OPTIMIZERS.__contains__, "one of transformers' optimizer names (OptimizerNames)", OPTIMIZERS)
_SCHEDULER = _Rule(SCHEDULERS.__contains__, "one of transformers' schedules (SchedulerType)", SCHEDULERS)
_NONE = type(None)


def _f(default: Any, help: str, allowed: _Rule = _ANY, *types: type) -> Any:
    """A field with its default, its meaning, the values it allows and the types it accepts (default:
    the default's); None, where a type, always passes."""
    return field(default=default, metadata={"help": help, "types": types or (type(default),),
                                            "allowed": allowed})


@dataclass(frozen=True)
class Config:
    """Every knob of the series. Introduced in 00_setup, read by every notebook after it."""

    profile: str = _f("tiny", "the preset these values started from (tiny or full)", _NAME)

    # -- model: FastLanguageModel.from_pretrained
    model_name: str = _f(TINY_MODEL_NAME, "Hub id or folder of the model; the tiny name builds a 2-layer "
                         "Qwen3 locally", _NAME)
    max_seq_length: int = _f(1024, "longest sequence in tokens; activation memory grows with it (attention's "
                             "scores, which flash attention does not keep, would grow with its square)",
                             _at_least(1, 1048576))
    load_in_4bit: bool = _f(True, "load the linear layers as 4-bit NF4 (QLoRA): a quarter of their 16-bit "
                            "size (the whole 8B: about 6 GB of 16)")
    unsloth_loader: str | None = _f(None, "Unsloth's loader class: FastLanguageModel (the source's) or "
                                    "FastModel; None = FastModel with speed_layer on, else FastLanguageModel",
                                    _one_of("FastLanguageModel", "FastModel"), str, _NONE)
    requires_cuda: bool = _f(False, "refuse to start without a CUDA GPU (the 8B model needs one)")
    progress_bars: bool = _f(True, "the libraries' progress bars (datasets, downloads, loading weights); the "
                             "trainer's stays")

    # -- data: load_dataset and the mix
    reasoning_dataset: str = _f(str(BUNDLED_HUB / "unsloth" / "OpenMathReasoning-mini"),
                                "Hub id or folder of the reasoning set (unsloth/OpenMathReasoning-mini)",
                                _NAME)
    reasoning_split: str = _f("cot", "its split: cot = chain-of-thought solutions, the one the source trains "
                              "on", _NAME)
    chat_dataset: str = _f(str(BUNDLED_HUB / "mlabonne" / "FineTome-100k"),
                           "Hub id or folder of the chat set (mlabonne/FineTome-100k, ShareGPT format)",
                           _NAME)
    chat_split: str = _f("train", "its split", _NAME)
    chat_percentage: float = _f(0.75, "share of chat rows in the mix (the source's chat_percentage); 0 to 1",
                                _number(">=", 0, "<=", 1), float, int)
    length_policy: str = _f("drop", "rows longer than max_seq_length: drop them, or report and keep them "
                            "(cut in training)", _one_of("drop", "report"))
    eval_reasoning_rows: int = _f(200, "reasoning rows 04 holds out of the mix for 07's evaluation (never "
                                  "trained on)", _at_least(1))
    eval_chat_rows: int = _f(200, "chat rows 04 holds out of the mix for 07's evaluation (never trained on)",
                             _at_least(1))
    dataset_num_proc: int | None = _f(None, "processes for tokenizing in SFTTrainer (SFTConfig's); None = "
                                      "the library's default", _at_least(1, 256), int, _NONE)

    # -- LoRA: FastLanguageModel.get_peft_model
    r: int = _f(32, "LoRA rank: the width of the low-rank update; more rank, more parameters",
                _at_least(1, 4096))
    lora_alpha: int = _f(32, "LoRA scale: the update is multiplied by lora_alpha / r", _at_least(1, 65536))
    lora_dropout: float = _f(0.0, "dropout on the LoRA branch's input; 0 is what Unsloth optimizes",
                             _number(">=", 0, "<", 1), float, int)
    bias: str = _f("none", "which biases to train: none, all or lora_only",
                   _one_of("none", "all", "lora_only"))
    target_modules: tuple[str, ...] | None = _f(
        ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
        "the linear layers LoRA is added to (the source's seven)", _MODULE_NAMES, tuple, list, _NONE)
    use_gradient_checkpointing: str | bool = _f(
        "unsloth", "recompute activations in the backward pass to save memory: 'unsloth' (offloaded), True "
        "or False", _one_of("unsloth", True, False), str, bool)
    random_state: int = _f(3407, "seed of the LoRA weights' initialization", _SEED)
    use_rslora: bool = _f(False, "rank-stabilized LoRA: scale by lora_alpha / sqrt(r) instead of / r")

    # -- training: trl.SFTConfig
    per_device_train_batch_size: int = _f(2, "rows per forward/backward pass on each device",
                                          _at_least(1, 4096))
    gradient_accumulation_steps: int = _f(4, "passes whose gradients are summed before one optimizer step",
                                          _at_least(1))
    warmup_steps: int = _f(5, "steps over which the learning rate rises from 0 to learning_rate",
                           _at_least(0))
    max_steps: int = _f(30, "optimizer steps to train (instead of epochs)", _at_least(1, 10000000))
    learning_rate: float = _f(2e-4, "peak learning rate", _number(">", 0, "<=", 1), float, int)
    logging_steps: int = _f(1, "log loss, grad_norm and learning rate every this many steps", _at_least(1))
    optim: str = _f("adamw_8bit", "optimizer: adamw_8bit keeps AdamW's state in 8 bits (bitsandbytes)",
                    _OPTIM)
    weight_decay: float = _f(0.01, "weight decay on the LoRA weights", _number(">=", 0, "<=", 1), float, int)
    lr_scheduler_type: str = _f("linear", "learning-rate schedule after the warmup", _SCHEDULER)
    seed: int = _f(3407, "seed of data order and dropout", _SEED)
    save_steps: int = _f(10, "write a checkpoint every this many steps (to resume from)", _at_least(1))
    report_to: str = _f("swanlab", "where the trainer logs: swanlab or none", _one_of("swanlab", "none"))
    swanlab_mode: str = _f("offline", "SwanLab: offline (local files, no account), cloud, local or disabled",
                           _one_of("offline", "cloud", "local", "disabled"))
    train_on_responses_only: bool = _f(True, "loss on the assistant's tokens only (beyond the source, 05)")

    # -- generation: model.generate in 02 and 06
    max_new_tokens: int = _f(256, "new tokens per reply with thinking off (the source's 256)", _at_least(1))
    max_new_tokens_thinking: int = _f(1024, "new tokens per reply with thinking on (the source's 1024: room "
                                      "to reason)", _at_least(1))
    eval_batch_size: int = _f(8, "rows per generate call in 07's evaluation (left-padded batches); more rows "
                              "are faster on a GPU with room", _at_least(1))

    # -- reinforcement learning: trl.GRPOConfig (09)
    grpo_start: str = _f("adapter", "what 09's GRPO trains: 05's adapter (SFT, then RL) or a new LoRA on the "
                         "base model", _one_of("adapter", "base"))
    grpo_prompts: int = _f(64, "reasoning questions 04 holds out for 09's GRPO (no SFT step trains on them, "
                           "07 does not score them)", _at_least(1))
    num_generations: int = _f(4, "GRPO: completions sampled per prompt, the group whose rewards are compared "
                              "(TRL's default 8)", _at_least(2, 1024))
    max_completion_length: int = _f(512, "GRPO: new tokens per completion (TRL's default 512)", _at_least(1))
    beta: float = _f(0.04, "GRPO: weight of the KL penalty to the reference model (TRL's: a copy of the "
                     "adapter GRPO starts from; TRL's default 0 computes no reference)",
                     _number(">=", 0, "<=", 10), float, int)
    grpo_learning_rate: float = _f(5e-6, "GRPO: peak learning rate (RL steps are smaller than SFT's)",
                                   _number(">", 0, "<=", 1), float, int)
    grpo_max_steps: int = _f(10, "GRPO: optimizer steps, one prompt's group of completions each",
                             _at_least(1, 10000000))

    # -- export: GGUF for llama.cpp (08)
    gguf_quantizations: tuple[str, ...] = _f(
        ("q8_0", "q4_k_m"), "the types 08 quantizes the f16 GGUF to with llama_model_quantize (q4_k_m: the "
        "size people share)", _GGUF_TYPES, tuple, list)
    gguf_keep_f16: bool = _f(True, "keep the f16 GGUF (the converter's output, 16.4 GB for the 8B) in "
                             "artifacts/gguf beside the quantized files; false deletes it once they are made "
                             "and checked")

    # -- the GPU speed layer: qwen3lab.fast (05)
    speed_layer: bool = _f(False, "the GPU speed layer of 05 (qwen3lab.fast), off = the source's recipe: "
                           "FastModel, batch, padding-free and checkpointing fitted to the free GPU memory")
    fused_lora: bool = _f(True, "with speed_layer: each LoRA layer on a 4-bit weight as one operator")
    keep_dequantized: bool | None = _f(False, "with fused_lora: keep frozen weights dequantized while "
                                       "training (opt-in: never run at the full profile's 8192); None = "
                                       "where the memory allows", _ANY, bool, _NONE)
    fp8_frozen: bool = _f(True, "with the frozen weights kept: in FP8, their products in FP8 (GPUs of "
                          "compute capability 8.9+)")
    gpu_memory_cap_gib: float | None = _f(None, "with speed_layer: 05 uses at most this many GiB of GPU 0 "
                                          "(fast.cap_gpu_memory), to rehearse a smaller card; None = all",
                                          _number(">=", 1, "<=", 4096), float, int, _NONE)
    padding_free: bool | None = _f(None, "SFTConfig's padding_free; None = the library's default (the fast "
                                   "layer decides)", _ANY, bool, _NONE)
    pad_to_multiple_of: int | None = _f(None, "SFTConfig's pad_to_multiple_of; None = off", _at_least(1),
                                        int, _NONE)

    # -- tiny model shape (only when model_name is the tiny name)
    tiny_hidden_size: int = _f(64, "tiny model: hidden size", _at_least(1, 8192))
    tiny_intermediate_size: int = _f(192, "tiny model: MLP width", _at_least(1, 32768))
    tiny_num_hidden_layers: int = _f(2, "tiny model: decoder layers", _at_least(1, 128))
    tiny_num_attention_heads: int = _f(4, "tiny model: query heads", _at_least(1, 128))
    tiny_num_key_value_heads: int = _f(2, "tiny model: key/value heads (grouped-query attention)",
                                       _at_least(1, 128))
    tiny_head_dim: int = _f(16, "tiny model: size of each head", _at_least(2, 512))

    def __post_init__(self) -> None:
        for name in _TUPLE_FIELDS:  # a TOML or JSON list is kept as a tuple
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        _validate(self)

    def replace(self, **changes: Any) -> Config:
        """A copy with some fields changed (validated like a new config)."""
        _check_known(changes, "replace()")
        try:
            return dataclasses.replace(self, **changes)
        except ConfigValueError as exc:
            raise exc.at(f"replace({exc.fields[0]}=...)") from None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {k: list(v) if k in _TUPLE_FIELDS and v is not None else v for k, v in d.items()}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Config:
        try:
            data = json.loads(Path(path).read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} is not valid JSON ({exc}); delete it and re-run the stage") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected an object of config fields, got {type(data).__name__}")
        _check_known(data, str(path))
        try:
            return cls(**data)
        except ConfigValueError as exc:
            raise exc.at(str(path)) from None

    @property
    def uses_tiny_model(self) -> bool:
        return self.model_name == TINY_MODEL_NAME

    @property
    def loader(self) -> str:
        """The Unsloth loader class: ``unsloth_loader``, or where that is None, FastModel with the speed
        layer on and the source's FastLanguageModel without it. Introduced in 05_lora_training."""
        return self.unsloth_loader or ("FastModel" if self.speed_layer else "FastLanguageModel")


_FIELDS = {f.name: f for f in fields(Config)}
#: The fields that hold a tuple (written as a list in TOML, JSON and ``QWEN3LAB_<FIELD>``).
_TUPLE_FIELDS = [name for name, f in _FIELDS.items() if tuple in f.metadata["types"]]


def field_names() -> list[str]:
    return list(_FIELDS)


def field_help(name: str) -> str:
    """The one-line meaning of a field."""
    _check_known({name}, "field_help()")
    return _FIELDS[name].metadata["help"]


def _check_known(keys, source: str) -> None:
    unknown = sorted(set(keys) - _FIELDS.keys())
    if unknown:
        hints = [f"{k!r} (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(k, _FIELDS, 1))
                 else repr(k) for k in unknown]
        raise ConfigError(f"unknown config key(s) {', '.join(hints)} in {source}; "
                          f"known keys: {field_names()}")


def _type_hint(types: tuple[type, ...]) -> str:
    """How to write a value of these types in TOML or a QWEN3LAB_<FIELD> variable."""
    if bool in types and str not in types:
        return " (write true or false)"
    if tuple in types:
        return ' (write a list: ["q_proj", "v_proj"])'
    if types == (str,):
        return ' (in TOML, a string in quotes: "...")'
    return ""


def _validate(cfg: Config) -> None:
    """Every field's type and range, then the rules that tie two fields together."""
    for name, f in _FIELDS.items():
        value, types, rule = getattr(cfg, name), f.metadata["types"], f.metadata["allowed"]
        # bool is an int in Python: accept it only where bool is one of the types
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            expected = " or ".join("None" if t is _NONE else t.__name__ for t in types)
            raise ConfigValueError((name,), value, f"has type {type(value).__name__}; expected {expected}"
                                   f"{_type_hint(types)}", rule.says)
        if value is not None and not rule.test(value):
            near = difflib.get_close_matches(str(value), rule.names, n=3, cutoff=0.5)
            closest = f" (closest: {', '.join(map(repr, near))})" if near else ""
            raise ConfigValueError((name,), value, f"must be {rule.says}{closest}")
    heads, kv_heads = cfg.tiny_num_attention_heads, cfg.tiny_num_key_value_heads
    if heads % kv_heads:
        raise ConfigValueError(("tiny_num_key_value_heads", "tiny_num_attention_heads"), kv_heads,
                               f"must divide tiny_num_attention_heads={heads} (grouped-query attention "
                               "shares each key/value head among the same number of query heads)")
    if cfg.tiny_head_dim % 2:
        raise ConfigValueError(("tiny_head_dim",), cfg.tiny_head_dim,
                               "must be even (rotary embeddings turn pairs of dimensions)")


#: Named presets. ``full`` is the source tutorial; ``tiny`` is the same recipe scaled to a CPU.
PROFILES: dict[str, Config] = {
    "tiny": Config(
        profile="tiny",
        # random weights: a larger step size makes the loss fall visibly in the source's 30 steps
        learning_rate=5e-3,
        progress_bars=False,  # its maps and loads are quick: their bars would only fill the page
        # a random model's replies are noise: short ones show the path without filling the page
        max_new_tokens=24,
        max_new_tokens_thinking=32,
        # few held-out rows keep 07's generate calls short on a CPU (each token costs the whole vocabulary)
        eval_reasoning_rows=4,
        eval_chat_rows=4,
        # 09 on a CPU: a few short steps, at the tiny SFT's step size, so that rewards and KL move visibly
        grpo_prompts=8,
        max_completion_length=32,
        grpo_learning_rate=5e-3,
        grpo_max_steps=6,
    ),
    "full": Config(
        profile="full",
        model_name="unsloth/Qwen3-8B-unsloth-bnb-4bit",
        max_seq_length=8192,
        requires_cuda=True,
        reasoning_dataset="unsloth/OpenMathReasoning-mini",
        chat_dataset="mlabonne/FineTome-100k",
        # the source's recipe as written; speed_layer = true switches 05 to the fitted GPU recipe
        swanlab_mode="cloud",
        eval_batch_size=64,  # the 8B in 4-bit leaves room for the KV cache of a large batch
        # 08: the file people run; the f16 file is made, checked and deleted
        gguf_quantizations=("q4_k_m",),
        gguf_keep_f16=False,
    ),
}


def _from_file(path: str) -> dict[str, Any]:
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"${CONFIG_ENV}={path}: no such file (a TOML file of `field = value` lines)")
    raw = file.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raise ConfigError(f"{file} starts with a byte-order mark (an editor's 'UTF-8 with BOM'), which TOML "
                          "does not allow: save it as plain UTF-8")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file} is not UTF-8 text (byte {exc.start}: {raw[exc.start:exc.start + 1]!r}): "
                          "save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file} is not valid TOML: {exc}") from exc
    nested = sorted(k for k, v in data.items() if isinstance(v, dict))
    if nested:
        raise ConfigError(f"{file}: tables {nested} are not config keys; write `field = value` at the top "
                          "level")
    _check_known(set(data) - {"profile"}, str(file))
    # TOML has no null: the string "none" stands for None where a field accepts it
    return {k: None if v == "none" and _NONE in _FIELDS[k].metadata["types"] else v for k, v in data.items()}


def _from_env() -> dict[str, Any]:
    """``QWEN3LAB_<FIELD>`` values written as in TOML (``8``, ``1e-3``, ``true``, ``["q_proj"]``);
    a bare word is a string, and a bare none or null is None."""
    found = {}
    for key, raw in os.environ.items():
        if key.startswith(FIELD_ENV_PREFIX) and key not in _NOT_FIELDS:
            name = key[len(FIELD_ENV_PREFIX):].lower()
            _check_known({name}, f"environment variable {key}")
            try:
                found[name] = tomllib.loads(f"v = {raw}")["v"]
            except tomllib.TOMLDecodeError:
                found[name] = None if raw.strip().lower() in ("none", "null") else raw
    return found


def _apply(cfg: Config, changes: dict[str, Any], source: Callable[[str], str]) -> Config:
    """``cfg`` with ``changes``; a bad value names the source of its field (``source(field)``)."""
    if not changes:
        return cfg
    try:
        return cfg.replace(**changes)
    except ConfigValueError as exc:
        changed = next((name for name in exc.fields if name in changes), exc.fields[0])
        raise exc.at(source(changed)) from None


def get_config(profile: str | None = None, **overrides: Any) -> Config:
    """The active configuration: ``profile`` (or the config file's ``profile``, or
    ``$QWEN3LAB_PROFILE``, default ``tiny``), then the file named by ``$QWEN3LAB_CONFIG``, then
    ``QWEN3LAB_<FIELD>`` variables, then ``overrides``. Introduced in 00_setup."""
    from_file = _from_file(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else {}
    file_profile = from_file.pop("profile", None)
    name = profile or file_profile or os.environ.get(PROFILE_ENV) or "tiny"
    if name not in PROFILES:
        raise ConfigError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}, e.g. "
                          "`make run PROFILE=tiny`")
    cfg = _apply(PROFILES[name], from_file, lambda _: str(Path(os.environ[CONFIG_ENV]).expanduser()))
    cfg = _apply(cfg, _from_env(), lambda name: f"environment variable {FIELD_ENV_PREFIX}{name.upper()}")
    return _apply(cfg, overrides, lambda name: f"get_config({name}=...)")


def show(cfg: Config, *names: str):
    """The fields ``names`` (all when none are given) with their values and meanings, as a table for a
    learner (in Chinese, from ``config_zh``); a column marks the fields changed from the profile.
    Introduced in 00_setup."""
    import pandas as pd

    from .config_zh import FIELD_HELP_ZH

    names = names or tuple(_FIELDS)
    _check_known(names, "show()")
    default = PROFILES.get(cfg.profile, PROFILES["tiny"])
    rows = []
    for n in names:
        value = getattr(cfg, n)
        text = value if isinstance(value, str) else repr(value)
        text = text.replace(str(BUNDLED_HUB), "<qwen3lab>/data/hub")
        rows.append({"字段": n, "取值": text, "改过": "*" if value != getattr(default, n) else "",
                     "含义": FIELD_HELP_ZH[n]})
    table = pd.DataFrame(rows).set_index("字段")
    return table if table["改过"].any() else table.drop(columns="改过")


def describe(cfg: Config) -> str:
    """The whole config as an aligned two-column text, for logs."""
    rows = cfg.to_dict()
    width = max(map(len, rows))
    return "\n".join(f"{k:<{width}}  {v!r}" for k, v in rows.items())


__all__ = ["BUNDLED_HUB", "Config", "ConfigError", "PROFILES", "TINY_MODEL_NAME", "describe", "field_help",
           "get_config", "show"]
