"""Guards the one typed config: profiles, env selection, validation and the JSON round-trip that
every artifact's manifest relies on."""

import math

import pytest

from qwen3lab.config import PROFILES, TINY_MODEL_NAME, Config, ConfigError, describe, get_config


def test_default_profile_is_tiny_and_offline(monkeypatch):
    monkeypatch.delenv("QWEN3LAB_PROFILE", raising=False)
    cfg = get_config()
    assert cfg.profile == "tiny"
    assert cfg.model_name == TINY_MODEL_NAME
    assert cfg.reasoning_dataset == cfg.chat_dataset == "bundled"
    assert not cfg.requires_cuda


def test_full_profile_is_the_source_tutorial():
    cfg = PROFILES["full"]
    assert cfg.model_name == "unsloth/Qwen3-8B-unsloth-bnb-4bit"
    assert cfg.reasoning_dataset == "unsloth/OpenMathReasoning-mini" and cfg.reasoning_split == "cot"
    assert cfg.chat_dataset == "mlabonne/FineTome-100k"
    assert (cfg.max_seq_length, cfg.load_in_4bit, cfg.dtype) == (8192, True, None)
    assert (cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps, cfg.warmup_steps) == (2, 4, 5)
    assert (cfg.max_steps, cfg.learning_rate, cfg.optim) == (30, 2e-4, "adamw_8bit")
    assert (cfg.weight_decay, cfg.lr_scheduler_type, cfg.seed) == (0.01, "linear", 3407)
    assert cfg.chat_fraction == 0.75 and cfg.report_to == "swanlab"
    assert cfg.requires_cuda


def test_profiles_differ_only_in_values_not_fields():
    assert set(PROFILES["tiny"].to_dict()) == set(PROFILES["full"].to_dict())


def test_env_selects_profile_and_backend(monkeypatch):
    monkeypatch.setenv("QWEN3LAB_PROFILE", "full")
    monkeypatch.setenv("QWEN3LAB_BACKEND", "transformers")
    cfg = get_config()
    assert cfg.profile == "full" and cfg.backend == "transformers"


def test_env_selects_the_unsloth_loader_unless_overridden(monkeypatch):
    assert get_config("tiny").unsloth_loader == "FastLanguageModel"  # the source tutorial's
    assert get_config("full").unsloth_loader == "FastModel"  # measured faster on the GPU
    monkeypatch.setenv("QWEN3LAB_UNSLOTH_LOADER", "FastModel")
    assert get_config("tiny").unsloth_loader == "FastModel"
    assert get_config("tiny", unsloth_loader="FastLanguageModel").unsloth_loader == "FastLanguageModel"
    monkeypatch.setenv("QWEN3LAB_UNSLOTH_LOADER", "FastVision")
    with pytest.raises(ConfigError, match="unsloth_loader"):
        get_config("tiny")


def test_unknown_profile_names_the_choices(monkeypatch):
    monkeypatch.setenv("QWEN3LAB_PROFILE", "huge")
    with pytest.raises(ConfigError, match=r"unknown profile 'huge'.*\['full', 'tiny'\]"):
        get_config()


def test_round_trip_through_json(tmp_path):
    cfg = get_config("tiny", target_modules=("q_proj", "v_proj"), r=8)
    cfg.save(tmp_path / "config.json")
    assert Config.load(tmp_path / "config.json") == cfg


def test_unknown_field_is_named(tmp_path):
    with pytest.raises(ConfigError, match="lora_rank"):
        get_config("tiny", lora_rank=8)
    with pytest.raises(ConfigError, match="lora_rank"):
        Config.from_dict({**Config().to_dict(), "lora_rank": 8})


@pytest.mark.parametrize("bad", [-0.1, 1.5, math.nan, "0.5"])
def test_chat_fraction_out_of_range_is_refused(bad):
    with pytest.raises(ConfigError, match="chat_fraction"):
        Config(chat_fraction=bad)


@pytest.mark.parametrize("field,value", [("max_seq_length", 0), ("r", -8), ("max_steps", 1.5),
                                         ("length_policy", "ignore"), ("backend", "jax"),
                                         ("unsloth_loader", "FastVisionModel"), ("keep_dequantized", "auto"),
                                         ("keep_dequantized", 1), ("fp8_frozen", None), ("fp8_frozen", "yes"), ("pad_to_multiple_of", 0),
                                         ("pad_to_multiple_of", True)])
def test_invalid_values_are_refused_with_the_field_name(field, value):
    with pytest.raises(ConfigError, match=field):
        Config(**{field: value})


def test_describe_lists_every_field():
    text = describe(PROFILES["tiny"])
    assert all(name in text for name in PROFILES["tiny"].to_dict())
