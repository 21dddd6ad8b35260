"""One typed configuration for the whole series, its named profiles, and a user's own overrides.

Field names are the upstream argument names (Unsloth's ``FastLanguageModel``, PEFT's LoRA
arguments, TRL's ``SFTConfig``), so a notebook cell reads ``r=cfg.r`` and passes it on unchanged.
Every field carries a one-line meaning (``metadata={"help": ...}``, as TRL's config classes do);
``show(cfg, ...)`` prints the fields a notebook uses with it. A profile is a set of field values,
never a branch in the code: code reads ``cfg.<field>``, not ``cfg.profile``.

Overrides, applied in this order over the profile:

1. a TOML file named by ``$QWEN3LAB_CONFIG`` (``make run CONFIG=my.toml``): ``field = value``
   lines, optionally ``profile = "full"``;
2. one environment variable per field, ``QWEN3LAB_<FIELD>`` (``QWEN3LAB_R=8``,
   ``QWEN3LAB_LEARNING_RATE=1e-3``), its value written as in TOML (a bare word is a string);
3. keyword arguments of ``get_config``.

Every field has a type and a range (``allowed=`` beside it), checked when a ``Config`` is made,
whichever way the value came. An unknown key, or a value of the wrong type or out of its range, is
a ``ConfigError`` that names the field, the value, the file, variable or call it came from
(``QWEN3LAB_WARMUP_STEPS``, not the whole environment), and what is allowed, so that a bad value
fails at once instead of far away (a NaN loss, PEFT looking for modules named ``q``, ``_``...).

Introduced in 00_setup.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from collections.abc import Callable
from typing import Any

import tomllib

#: The model name that means "build the tiny random-weight Qwen3 locally" (see ``tiny.py``).
TINY_MODEL_NAME = "qwen3lab/tiny-qwen3"
#: Folders in the layout of the two Hub data sets, with bundled rows in their schemas, which
#: ``datasets.load_dataset`` reads offline (``data/hub/README.md``).
BUNDLED_HUB = Path(__file__).resolve().parent / "data" / "hub"

PROFILE_ENV = "QWEN3LAB_PROFILE"
CONFIG_ENV = "QWEN3LAB_CONFIG"
FIELD_ENV_PREFIX = "QWEN3LAB_"
#: Environment variables of the package that are not config fields.
_NOT_FIELDS = {"QWEN3LAB_PROFILE", "QWEN3LAB_CONFIG", "QWEN3LAB_HOME", "QWEN3LAB_FP8_FAST_ACCUM", "QWEN3LAB_LLAMA_CPP"}


class ConfigError(ValueError):
    """A configuration value, key, file or profile name that cannot be used."""


class ConfigValueError(ConfigError):
    """One field's value that cannot be used: says the field, the value, where it came from (once
    known: ``get_config`` and ``replace`` add it) and what is allowed."""

    def __init__(self, fields: tuple[str, ...], value: Any, problem: str, allowed: str = "",
                 source: str = "Config()"):
        self.fields, self.value, self.problem, self.allowed, self.source = fields, value, problem, allowed, source
        name = fields[0]
        help_text = next(f.metadata["help"] for f in dataclasses.fields(Config) if f.name == name)
        rule = f"; allowed: {allowed}" if allowed else ""
        super().__init__(f"config field {name}={value!r} {problem} (from {source}){rule} [{name}: {help_text}]")

    def at(self, source: str) -> "ConfigValueError":
        """The same error, naming where the value came from."""
        return ConfigValueError(self.fields, self.value, self.problem, self.allowed, source)


@dataclass(frozen=True)
class _Rule:
    """What a field's value must be, beyond its type: a test and the words that say what passes."""

    test: Callable[[Any], bool]
    says: str
    #: more words for a value that fails (the closest allowed names)
    hint: Callable[[Any], str] | None = None


def _between(low: float, high: float | None = None, *, low_open: bool = False, high_open: bool = False) -> _Rule:
    """A finite number in [low, high] (an end in ``*_open`` excluded); no upper end when high is None."""
    def test(v: Any) -> bool:
        above = v > low if low_open else v >= low
        below = high is None or (v < high if high_open else v <= high)
        return math.isfinite(v) and above and below

    ends = f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        ends += f" and {'<' if high_open else '<='} {high:g}"
    return _Rule(test, f"a number {ends}")


def _at_least(low: int, high: int | None = None) -> _Rule:
    """An integer from ``low`` (to ``high``: a value past any machine's reach is a typo, refused now
    rather than as an out-of-memory error minutes later)."""
    if high is None:
        return _Rule(lambda v: v >= low, "a positive integer" if low == 1 else f"an integer >= {low}")
    return _Rule(lambda v: low <= v <= high, f"an integer from {low} to {high:,}")


def _one_of(*choices: Any) -> _Rule:
    # `x in choices` would take 1 for True and 0 for False: compare types too
    return _Rule(lambda v: any(v == c and type(v) is type(c) for c in choices),
                 "one of " + ", ".join(map(repr, choices)))


#: transformers 5.17's names (``OptimizerNames``, ``SchedulerType``), written out here because this
#: module imports nothing heavy; tests/test_config.py checks them against transformers'.
OPTIMIZERS = ('adamw_torch', 'adamw_torch_fused', 'adamw_torch_xla', 'adamw_torch_npu_fused', 'adafactor',
              'adamw_anyprecision', 'adamw_torch_4bit', 'adamw_torch_8bit', 'ademamix', 'sgd', 'adagrad',
              'adamw_bnb_8bit', 'adamw_8bit', 'ademamix_8bit', 'lion_8bit', 'lion_32bit', 'paged_adamw_32bit',
              'paged_adamw_8bit', 'paged_ademamix_32bit', 'paged_ademamix_8bit', 'paged_lion_32bit',
              'paged_lion_8bit', 'rmsprop', 'rmsprop_bnb', 'rmsprop_bnb_8bit', 'rmsprop_bnb_32bit', 'galore_adamw',
              'galore_adamw_8bit', 'galore_adafactor', 'galore_adamw_layerwise', 'galore_adamw_8bit_layerwise',
              'galore_adafactor_layerwise', 'lomo', 'adalomo', 'grokadamw', 'schedule_free_radam',
              'schedule_free_adamw', 'schedule_free_sgd', 'apollo_adamw', 'apollo_adamw_layerwise', 'stable_adamw')
SCHEDULERS = ('linear', 'cosine', 'cosine_with_restarts', 'polynomial', 'constant', 'constant_with_warmup',
              'inverse_sqrt', 'reduce_lr_on_plateau', 'cosine_with_min_lr', 'cosine_warmup_with_min_lr',
              'warmup_stable_decay', 'greedy')


def _name_in(names: tuple[str, ...], what: str) -> _Rule:
    """One of ``names``; a value that fails is told the closest names, since the list is long."""
    import difflib

    def closest(v: Any) -> str:
        near = difflib.get_close_matches(str(v), names, n=3, cutoff=0.5)
        return f" (closest: {', '.join(map(repr, near))})" if near else ""

    return _Rule(lambda v: v in names, f"one of {what}", closest)


def _is_names(v: Any) -> bool:
    return len(v) > 0 and all(isinstance(n, str) and n.strip() == n != "" for n in v) and len(set(v)) == len(v)


_NAME = _Rule(lambda v: v.strip() == v != "", "a non-empty string without spaces at its ends")
_SEED = _Rule(lambda v: 0 <= v < 2**32, "an integer from 0 to 2**32 - 1 (what numpy accepts as a seed)")
_MODULE_NAMES = _Rule(_is_names, 'a non-empty list of distinct module names, e.g. ["q_proj", "v_proj"]')
_ANY = _Rule(lambda v: True, "")  # every value of the type (a bool)
#: llama.cpp's quantization types by the names llama-quantize takes (08: LLAMA_FTYPE_MOSTLY_<NAME>)
GGUF_TYPES = ("q8_0", "q6_k", "q5_k_m", "q5_k_s", "q5_0", "q4_k_m", "q4_k_s", "q4_0", "q3_k_m", "q2_k")
_GGUF_TYPES = _Rule(lambda v: _is_names(v) and set(v) <= set(GGUF_TYPES),
                    f"a non-empty list of distinct llama.cpp types from {list(GGUF_TYPES)}")


def _f(default: Any, help: str, *types: type, allowed: _Rule = _ANY) -> Any:
    """A field with its default, its meaning, the types it accepts (default: the default's) and the
    values of those types it allows (None, where a type, always passes)."""
    return field(default=default, metadata={"help": help, "types": types or (type(default),), "allowed": allowed})


@dataclass(frozen=True)
class Config:
    """Every knob of the series. Introduced in 00_setup, read by every notebook after it."""

    profile: str = _f("tiny", "the preset these values started from (tiny or full)", allowed=_NAME)

    # -- model: FastLanguageModel.from_pretrained ------------------------------------------------
    model_name: str = _f(TINY_MODEL_NAME, "Hub id or folder of the model; the tiny name builds a 2-layer Qwen3 locally",
                         allowed=_NAME)
    max_seq_length: int = _f(1024, "longest sequence in tokens; activation memory grows with it (attention's "
                                   "scores, which flash attention does not keep, would grow with its square)",
                             allowed=_at_least(1, 1048576))
    load_in_4bit: bool = _f(True, "load the linear layers as 4-bit NF4 (QLoRA): a quarter of their 16-bit size "
                                  "(the whole 8B: about 6 GB of 16)")
    unsloth_loader: str | None = _f(None, "Unsloth's loader class: FastLanguageModel (the source's) or FastModel; "
                                          "None = FastModel with speed_layer on, else FastLanguageModel",
                                    str, type(None), allowed=_one_of("FastLanguageModel", "FastModel"))
    requires_cuda: bool = _f(False, "refuse to start without a CUDA GPU (the 8B model needs one)")
    progress_bars: bool = _f(True, "the libraries' progress bars (datasets, downloads, loading weights); the trainer's stays")

    # -- data: load_dataset and the mix ----------------------------------------------------------
    reasoning_dataset: str = _f(str(BUNDLED_HUB / "unsloth" / "OpenMathReasoning-mini"),
                                "Hub id or folder of the reasoning set (unsloth/OpenMathReasoning-mini)", allowed=_NAME)
    reasoning_split: str = _f("cot", "its split: cot = chain-of-thought solutions, the one the source trains on",
                              allowed=_NAME)
    chat_dataset: str = _f(str(BUNDLED_HUB / "mlabonne" / "FineTome-100k"),
                           "Hub id or folder of the chat set (mlabonne/FineTome-100k, ShareGPT format)", allowed=_NAME)
    chat_split: str = _f("train", "its split", allowed=_NAME)
    chat_percentage: float = _f(0.75, "share of chat rows in the mix (the source's chat_percentage); 0 to 1",
                                float, int, allowed=_between(0, 1))
    length_policy: str = _f("drop", "rows longer than max_seq_length: drop them, or report and keep them (cut in training)",
                            allowed=_one_of("drop", "report"))
    eval_reasoning_rows: int = _f(200, "reasoning rows 04 holds out of the mix for 07's evaluation (never trained on)",
                                  allowed=_at_least(1))
    eval_chat_rows: int = _f(200, "chat rows 04 holds out of the mix for 07's evaluation (never trained on)",
                             allowed=_at_least(1))
    dataset_num_proc: int | None = _f(None, "processes for tokenizing in SFTTrainer (SFTConfig's); None = the "
                                            "library's default", int, type(None), allowed=_at_least(1, 256))

    # -- LoRA: FastLanguageModel.get_peft_model --------------------------------------------------
    r: int = _f(32, "LoRA rank: the width of the low-rank update; more rank, more parameters", allowed=_at_least(1, 4096))
    lora_alpha: int = _f(32, "LoRA scale: the update is multiplied by lora_alpha / r", allowed=_at_least(1, 65536))
    lora_dropout: float = _f(0.0, "dropout on the LoRA branch's input; 0 is what Unsloth optimizes", float, int,
                             allowed=_between(0, 1, high_open=True))
    bias: str = _f("none", "which biases to train: none, all or lora_only", allowed=_one_of("none", "all", "lora_only"))
    target_modules: tuple[str, ...] | None = _f(
        ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
        "the linear layers LoRA is added to (the source's seven)", tuple, list, type(None), allowed=_MODULE_NAMES)
    use_gradient_checkpointing: str | bool = _f("unsloth", "recompute activations in the backward pass to save "
                                                          "memory: 'unsloth' (offloaded), True or False", str, bool,
                                                allowed=_one_of("unsloth", True, False))
    random_state: int = _f(3407, "seed of the LoRA weights' initialization", allowed=_SEED)
    use_rslora: bool = _f(False, "rank-stabilized LoRA: scale by lora_alpha / sqrt(r) instead of / r")

    # -- training: trl.SFTConfig -----------------------------------------------------------------
    per_device_train_batch_size: int = _f(2, "rows per forward/backward pass on each device", allowed=_at_least(1, 4096))
    gradient_accumulation_steps: int = _f(4, "passes whose gradients are summed before one optimizer step",
                                          allowed=_at_least(1))
    warmup_steps: int = _f(5, "steps over which the learning rate rises from 0 to learning_rate", allowed=_at_least(0))
    max_steps: int = _f(30, "optimizer steps to train (instead of epochs)", allowed=_at_least(1, 10000000))
    learning_rate: float = _f(2e-4, "peak learning rate", float, int, allowed=_between(0, 1, low_open=True))
    logging_steps: int = _f(1, "log loss, grad_norm and learning rate every this many steps", allowed=_at_least(1))
    optim: str = _f("adamw_8bit", "optimizer: adamw_8bit keeps AdamW's state in 8 bits (bitsandbytes)",
                    allowed=_name_in(OPTIMIZERS, "transformers' optimizer names (OptimizerNames)"))
    weight_decay: float = _f(0.01, "weight decay on the LoRA weights", float, int, allowed=_between(0, 1))
    lr_scheduler_type: str = _f("linear", "learning-rate schedule after the warmup",
                                allowed=_name_in(SCHEDULERS, "transformers' schedules (SchedulerType)"))
    seed: int = _f(3407, "seed of data order and dropout", allowed=_SEED)
    save_steps: int = _f(10, "write a checkpoint every this many steps (to resume from)", allowed=_at_least(1))
    report_to: str = _f("swanlab", "where the trainer logs: swanlab or none", allowed=_one_of("swanlab", "none"))
    swanlab_mode: str = _f("offline", "SwanLab: offline (local files, no account), cloud, local or disabled",
                           allowed=_one_of("offline", "cloud", "local", "disabled"))
    train_on_responses_only: bool = _f(True, "loss on the assistant's tokens only (beyond the source, 05)")

    # -- generation: model.generate in 02 and 06 -------------------------------------------------
    max_new_tokens: int = _f(256, "new tokens per reply with thinking off (the source's 256)", allowed=_at_least(1))
    max_new_tokens_thinking: int = _f(1024, "new tokens per reply with thinking on (the source's 1024: room to reason)",
                                      allowed=_at_least(1))
    eval_batch_size: int = _f(8, "rows per generate call in 07's evaluation (left-padded batches); more rows are "
                                 "faster on a GPU with room", allowed=_at_least(1))

    # -- reinforcement learning: trl.GRPOConfig (09) --------------------------------------------
    grpo_start: str = _f("adapter", "what 09's GRPO trains: 05's adapter (SFT, then RL) or a new LoRA on the base model",
                         allowed=_one_of("adapter", "base"))
    grpo_prompts: int = _f(64, "reasoning questions 04 holds out for 09's GRPO (no SFT step trains on them, 07 does "
                               "not score them)", allowed=_at_least(1))
    num_generations: int = _f(4, "GRPO: completions sampled per prompt, the group whose rewards are compared "
                                 "(TRL's default 8)", allowed=_at_least(2, 1024))
    max_completion_length: int = _f(512, "GRPO: new tokens per completion (TRL's default 512)", allowed=_at_least(1))
    beta: float = _f(0.04, "GRPO: weight of the KL penalty to the reference model (TRL's: a copy of the "
                           "adapter GRPO starts from; TRL's default 0 computes no reference)", float, int, allowed=_between(0, 10))
    grpo_learning_rate: float = _f(5e-6, "GRPO: peak learning rate (RL steps are smaller than SFT's)", float, int,
                                   allowed=_between(0, 1, low_open=True))
    grpo_max_steps: int = _f(10, "GRPO: optimizer steps, one prompt's group of completions each",
                             allowed=_at_least(1, 10000000))

    # -- export: GGUF for llama.cpp (08) ----------------------------------------------------------
    gguf_quantizations: tuple[str, ...] = _f(("q8_0", "q4_k_m"), "the types 08 quantizes the f16 GGUF to with "
                                             "llama_model_quantize (q4_k_m: the size people share)", tuple, list,
                                             allowed=_GGUF_TYPES)
    gguf_keep_f16: bool = _f(True, "keep the f16 GGUF (the converter's output, 16.4 GB for the 8B) in artifacts/gguf "
                                   "beside the quantized files; false deletes it once they are made and checked")

    # -- the GPU speed layer: qwen3lab.fast (05) -----------------------------------------------
    speed_layer: bool = _f(False, "the GPU speed layer of 05 (qwen3lab.fast), off = the source's recipe: FastModel, "
                                  "batch, padding-free and checkpointing fitted to the free GPU memory")
    fused_lora: bool = _f(True, "with speed_layer: each LoRA layer on a 4-bit weight as one operator")
    keep_dequantized: bool | None = _f(False, "with fused_lora: keep frozen weights dequantized while training "
                                              "(opt-in: never run at the full profile's 8192); None = where the "
                                              "memory allows", bool, type(None))
    fp8_frozen: bool = _f(True, "with the frozen weights kept: in FP8, their products in FP8 (GPUs of "
                                "compute capability 8.9+)")
    gpu_memory_cap_gib: float | None = _f(None, "with speed_layer: 05 uses at most this many GiB of GPU 0 "
                                                "(fast.cap_gpu_memory), to rehearse a smaller card; None = all",
                                          float, int, type(None), allowed=_between(1, 4096))
    padding_free: bool | None = _f(None, "SFTConfig's padding_free; None = the library's default (the fast "
                                         "layer decides)", bool, type(None))
    pad_to_multiple_of: int | None = _f(None, "SFTConfig's pad_to_multiple_of; None = off", int, type(None),
                                        allowed=_at_least(1))

    # -- tiny model shape (only when model_name is the tiny name) -------------------------------
    tiny_hidden_size: int = _f(64, "tiny model: hidden size", allowed=_at_least(1, 8192))
    tiny_intermediate_size: int = _f(192, "tiny model: MLP width", allowed=_at_least(1, 32768))
    tiny_num_hidden_layers: int = _f(2, "tiny model: decoder layers", allowed=_at_least(1, 128))
    tiny_num_attention_heads: int = _f(4, "tiny model: query heads", allowed=_at_least(1, 128))
    tiny_num_key_value_heads: int = _f(2, "tiny model: key/value heads (grouped-query attention)", allowed=_at_least(1, 128))
    tiny_head_dim: int = _f(16, "tiny model: size of each head", allowed=_at_least(2, 512))

    def __post_init__(self) -> None:
        for name in _tuple_fields():  # a TOML or JSON list is kept as a tuple
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        _validate(self)

    def replace(self, **changes: Any) -> "Config":
        """A copy with some fields changed (validated like a new config)."""
        _check_known(changes, "replace()")
        try:
            return dataclasses.replace(self, **changes)
        except ConfigValueError as exc:
            if exc.source != "Config()":
                raise
            raise exc.at(f"replace({exc.fields[0]}=...)") from None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for name in _tuple_fields():
            if d[name] is not None:
                d[name] = list(d[name])
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "a dict") -> "Config":
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected an object of config fields, got {type(data).__name__}")
        _check_known(data, source)
        try:
            return cls(**data)
        except ConfigValueError as exc:
            raise exc.at(source) from None

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "Config":
        try:
            return cls.from_dict(json.loads(Path(path).read_text()), str(path))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} is not valid JSON ({exc}); delete it and re-run the stage") from exc

    @property
    def uses_tiny_model(self) -> bool:
        return self.model_name == TINY_MODEL_NAME

    @property
    def loader(self) -> str:
        """The Unsloth loader class to load with: ``unsloth_loader``, or where that is None, FastModel
        with the speed layer on and the source's FastLanguageModel without it. Introduced in 05_lora_training."""
        return self.unsloth_loader or ("FastModel" if self.speed_layer else "FastLanguageModel")


def _tuple_fields() -> list[str]:
    """The fields that hold a tuple (written as a list in TOML, JSON and ``QWEN3LAB_<FIELD>``)."""
    return [f.name for f in fields(Config) if tuple in f.metadata["types"]]


def field_names() -> list[str]:
    return [f.name for f in fields(Config)]


def field_help(name: str) -> str:
    """The one-line meaning of a field."""
    _check_known({name: None}, "field_help()")
    return next(f.metadata["help"] for f in fields(Config) if f.name == name)


def _check_known(keys, source: str) -> None:
    unknown = sorted(set(keys) - set(field_names()))
    if unknown:
        import difflib

        hints = [f"{k!r} (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(k, field_names(), 1)) else repr(k)
                 for k in unknown]
        raise ConfigError(f"unknown config key(s) {', '.join(hints)} in {source}; known keys: {field_names()}")


def _type_name(types: tuple[type, ...]) -> str:
    return " or ".join("None" if t is type(None) else t.__name__ for t in types)


def _type_hint(types: tuple[type, ...]) -> str:
    """How to write a value of these types in TOML or a QWEN3LAB_<FIELD> variable."""
    if bool in types and str not in types:
        return " (write true or false)"
    if tuple in types:
        return ' (write a list: ["q_proj", "v_proj"])'
    if str in types and len(types) == 1:
        return ' (in TOML, a string in quotes: "...")'
    return ""


def _check_value(f: dataclasses.Field, value: Any) -> None:
    types, rule = f.metadata["types"], f.metadata["allowed"]
    # bool is an int in Python: accept it only where bool is one of the types
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise ConfigValueError((f.name,), value, f"has type {type(value).__name__}; expected {_type_name(types)}"
                               f"{_type_hint(types)}", rule.says)
    if value is not None and not rule.test(value):
        raise ConfigValueError((f.name,), value, f"must be {rule.says}{rule.hint(value) if rule.hint else ''}")


def _validate(cfg: Config) -> None:
    """Every field's type and range, then the rules that tie two fields together."""
    for f in fields(cfg):
        _check_value(f, getattr(cfg, f.name))
    heads, kv_heads = cfg.tiny_num_attention_heads, cfg.tiny_num_key_value_heads
    if heads % kv_heads:
        raise ConfigValueError(("tiny_num_key_value_heads", "tiny_num_attention_heads"), kv_heads,
                               f"must divide tiny_num_attention_heads={heads} (grouped-query attention shares "
                               "each key/value head among the same number of query heads)")
    if cfg.tiny_head_dim % 2:
        raise ConfigValueError(("tiny_head_dim",), cfg.tiny_head_dim,
                               "must be even (rotary embeddings turn pairs of dimensions)")


#: Named presets. ``full`` is the source tutorial; ``tiny`` is the same recipe scaled to a CPU.
PROFILES: dict[str, Config] = {
    "tiny": Config(
        profile="tiny",
        # The tiny model starts from random weights: a larger step size makes its loss fall
        # visibly in the source's 30 steps (about 45 s on 2 CPU cores). Everything else of the
        # recipe is the source's.
        learning_rate=5e-3,
        # its maps and loads take well under a second: their bars would only fill the page
        progress_bars=False,
        # a random model's replies are noise: short ones show the path without filling the page
        max_new_tokens=24,
        max_new_tokens_thinking=32,
        # 4 + 4 held-out rows: 07's four generate calls (two modes, base and adapter) stay well
        # under a minute on 2 CPU cores (each new token costs the 151,936-word output layer)
        eval_reasoning_rows=4,
        eval_chat_rows=4,
        # 09 on a CPU: 6 steps of 4 completions of 32 tokens (the random model seldom stops early),
        # at the tiny SFT's step size so that rewards and KL move visibly
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
        # The source's recipe as written (FastLanguageModel, 2 x 4, Unsloth's checkpointing).
        # speed_layer = true switches 05 to the fitted GPU recipe (qwen3lab.fast, docs/benchmarks.md).
        swanlab_mode="cloud",
        # 8B in 4-bit on one H200: 64 prompts of a few hundred tokens + 1,024 new ones: a KV cache near 12 GB
        eval_batch_size=64,
        # 08: the file people run (about 5 GB); the 16.4 GB f16 file is made, checked and deleted
        gguf_quantizations=("q4_k_m",),
        gguf_keep_f16=False,
    ),
}


def _parse_env_value(name: str, raw: str) -> Any:
    """A value written as in TOML (``8``, ``1e-3``, ``true``, ``["q_proj"]``); a bare word is a string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        if raw.strip().lower() in ("none", "null"):
            return None
        return raw


def _from_file(path: str) -> dict[str, Any]:
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"${CONFIG_ENV}={path}: no such file (a TOML file of `field = value` lines)")
    raw = file.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raise ConfigError(f"{file} starts with a byte-order mark (an editor's 'UTF-8 with BOM'), which TOML does "
                          "not allow: save it as plain UTF-8")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file} is not UTF-8 text (byte {exc.start}: {raw[exc.start:exc.start + 1]!r}): "
                          "save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file} is not valid TOML: {exc}") from exc
    nested = sorted(k for k, v in data.items() if isinstance(v, dict))
    if nested:
        raise ConfigError(f"{file}: tables {nested} are not config keys; write `field = value` at the top level")
    _check_known(set(data) - {"profile"}, str(file))
    # TOML has no null: the string "none" stands for None where a field accepts it
    return {k: None if v == "none" and type(None) in _types(k) else v for k, v in data.items()}


def _from_env() -> dict[str, Any]:
    found = {}
    for key, raw in os.environ.items():
        if not key.startswith(FIELD_ENV_PREFIX) or key in _NOT_FIELDS:
            continue
        name = key[len(FIELD_ENV_PREFIX):].lower()
        _check_known({name}, f"environment variable {key}")
        found[name] = _parse_env_value(name, raw)
    return found


def _types(name: str) -> tuple[type, ...]:
    return next(f.metadata["types"] for f in fields(Config) if f.name == name)


def _apply(cfg: Config, changes: dict[str, Any], source: Callable[[str], str]) -> Config:
    """``cfg`` with ``changes``; a bad value names the source of its field (``source(field)``)."""
    try:
        return cfg.replace(**changes)
    except ConfigValueError as exc:
        changed = next((name for name in exc.fields if name in changes), exc.fields[0])
        raise exc.at(source(changed)) from None


def get_config(profile: str | None = None, **overrides: Any) -> Config:
    """The active configuration: ``profile`` (or the config file's ``profile``, or
    ``$QWEN3LAB_PROFILE``, default ``tiny``), then the file named by ``$QWEN3LAB_CONFIG``, then
    ``QWEN3LAB_<FIELD>`` variables, then ``overrides``.

    Introduced in 00_setup.
    """
    from_file = _from_file(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else {}
    name = profile or from_file.pop("profile", None) or os.environ.get(PROFILE_ENV) or "tiny"
    from_file.pop("profile", None)
    if name not in PROFILES:
        raise ConfigError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}, e.g. `make run PROFILE=tiny`")
    cfg = PROFILES[name]
    if from_file:
        cfg = _apply(cfg, from_file, lambda name: str(Path(os.environ[CONFIG_ENV]).expanduser()))
    env = _from_env()
    if env:
        cfg = _apply(cfg, env, lambda name: f"environment variable {FIELD_ENV_PREFIX}{name.upper()}")
    return _apply(cfg, overrides, lambda name: f"get_config({name}=...)") if overrides else cfg


def show(cfg: Config, *names: str):
    """The fields ``names`` (all when none are given) with their values and one-line meanings, as a
    table for a learner (columns in Chinese, meanings from ``config_zh``; the English ones are
    ``field_help``): the first cell of each notebook shows the fields it uses. Introduced in 00_setup."""
    import pandas as pd

    from .config_zh import FIELD_HELP_ZH

    names = names or tuple(field_names())
    _check_known(names, "show()")
    default = PROFILES["tiny"] if cfg.profile not in PROFILES else PROFILES[cfg.profile]
    rows = [{"字段": n, "取值": _short(getattr(cfg, n)),
             "改过": "*" if getattr(cfg, n) != getattr(default, n) else "", "含义": FIELD_HELP_ZH[n]}
            for n in names]
    table = pd.DataFrame(rows).set_index("字段")
    if not table["改过"].any():
        table = table.drop(columns="改过")
    return table


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    bundled = str(BUNDLED_HUB)
    return text.replace(bundled, "<qwen3lab>/data/hub") if isinstance(text, str) else text


def describe(cfg: Config) -> str:
    """The whole config as an aligned two-column text, for logs."""
    rows = cfg.to_dict()
    width = max(map(len, rows))
    return "\n".join(f"{k:<{width}}  {v!r}" for k, v in rows.items())


__all__ = ["BUNDLED_HUB", "Config", "ConfigError", "PROFILES", "TINY_MODEL_NAME", "describe", "field_help",
           "get_config", "show"]
