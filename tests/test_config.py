"""Guards the one typed config: the profiles are the source's recipe, every field has a meaning,
a user's TOML file and environment override any field, and a wrong key or type is refused with
the key and where it came from (a workshop exercise must not fail silently on a typo)."""

import math

import pytest

from qwen3lab.config import (BUNDLED_HUB, PROFILES, TINY_MODEL_NAME, Config, ConfigError, describe, field_help,
                             field_names, get_config, show)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    import os

    for key in list(os.environ):
        if key.startswith("QWEN3LAB_") and key != "QWEN3LAB_HOME":
            monkeypatch.delenv(key)


def test_default_profile_is_tiny_and_offline():
    cfg = get_config()
    assert cfg.profile == "tiny" and cfg.model_name == TINY_MODEL_NAME and not cfg.requires_cuda
    assert cfg.reasoning_dataset == str(BUNDLED_HUB / "unsloth" / "OpenMathReasoning-mini")
    assert cfg.chat_dataset == str(BUNDLED_HUB / "mlabonne" / "FineTome-100k")


def test_full_profile_is_the_source_tutorial():
    cfg = PROFILES["full"]
    assert cfg.model_name == "unsloth/Qwen3-8B-unsloth-bnb-4bit"
    assert cfg.reasoning_dataset == "unsloth/OpenMathReasoning-mini" and cfg.reasoning_split == "cot"
    assert cfg.chat_dataset == "mlabonne/FineTome-100k" and cfg.chat_percentage == 0.75
    assert (cfg.max_seq_length, cfg.load_in_4bit) == (8192, True)
    assert (cfg.r, cfg.lora_alpha, cfg.lora_dropout, cfg.bias, cfg.random_state) == (32, 32, 0.0, "none", 3407)
    assert cfg.target_modules == ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    assert (cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps, cfg.warmup_steps) == (2, 4, 5)
    assert (cfg.max_steps, cfg.learning_rate, cfg.optim) == (30, 2e-4, "adamw_8bit")
    assert (cfg.weight_decay, cfg.lr_scheduler_type, cfg.seed, cfg.report_to) == (0.01, "linear", 3407, "swanlab")
    assert (cfg.max_new_tokens, cfg.max_new_tokens_thinking) == (256, 1024)
    assert cfg.requires_cuda and not cfg.speed_layer  # the source's recipe, until a user turns the speed layer on
    assert cfg.loader == "FastLanguageModel" and cfg.replace(speed_layer=True).loader == "FastModel"


def test_every_field_has_a_one_line_meaning():
    for name in field_names():
        text = field_help(name)
        assert text and "\n" not in text, name
    table = show(PROFILES["full"], "r", "learning_rate")
    assert list(table.index) == ["r", "learning_rate"] and "秩" in table.loc["r", "含义"]  # for the room, in Chinese
    assert "改过" not in table.columns  # nothing differs from the profile
    from qwen3lab.config_zh import FIELD_HELP_ZH

    assert list(FIELD_HELP_ZH) == field_names() and all(FIELD_HELP_ZH.values())  # every field, in order


def test_show_marks_changed_fields_and_refuses_unknown_ones():
    table = show(get_config(r=8), "r", "lora_alpha")
    assert table.loc["r", "改过"] == "*" and table.loc["lora_alpha", "改过"] == ""
    with pytest.raises(ConfigError, match="lora_rank"):
        show(get_config(), "lora_rank")


def test_a_toml_file_overrides_fields_and_may_pick_the_profile(tmp_path, monkeypatch):
    mine = tmp_path / "my.toml"
    mine.write_text('profile = "full"\nr = 8\ntarget_modules = ["q_proj", "v_proj"]\ndataset_num_proc = "none"\n')
    monkeypatch.setenv("QWEN3LAB_CONFIG", str(mine))
    cfg = get_config()
    assert cfg.profile == "full" and cfg.r == 8 and cfg.target_modules == ("q_proj", "v_proj")
    assert cfg.dataset_num_proc is None and cfg.learning_rate == 2e-4  # the rest stays the profile's


def test_environment_variables_override_the_file_and_keywords_override_both(tmp_path, monkeypatch):
    mine = tmp_path / "my.toml"
    mine.write_text("r = 8\nmax_steps = 4\n")
    monkeypatch.setenv("QWEN3LAB_CONFIG", str(mine))
    monkeypatch.setenv("QWEN3LAB_R", "16")
    monkeypatch.setenv("QWEN3LAB_LEARNING_RATE", "1e-3")
    monkeypatch.setenv("QWEN3LAB_OPTIM", "adamw_torch")  # a bare word is a string
    monkeypatch.setenv("QWEN3LAB_TRAIN_ON_RESPONSES_ONLY", "false")
    cfg = get_config(max_steps=2)
    assert (cfg.r, cfg.max_steps, cfg.learning_rate, cfg.optim) == (16, 2, 1e-3, "adamw_torch")
    assert cfg.train_on_responses_only is False


@pytest.mark.parametrize("text,fragments", [
    ("lora_rank = 8\n", ["lora_rank", "did you mean 'lora_alpha'", "my.toml"]),
    ('r = "8"\n', ["r='8'", "expected int", "my.toml"]),
    ("learning_rate = true\n", ["learning_rate=True", "expected float or int"]),
    ("[training]\nr = 8\n", ["tables ['training']", "top level"]),
    ("r = \n", ["not valid TOML"]),
])
def test_a_wrong_key_or_type_in_the_file_is_named_with_the_file(tmp_path, monkeypatch, text, fragments):
    mine = tmp_path / "my.toml"
    mine.write_text(text)
    monkeypatch.setenv("QWEN3LAB_CONFIG", str(mine))
    with pytest.raises(ConfigError) as err:
        get_config()
    for fragment in fragments:
        assert fragment in str(err.value), (fragment, str(err.value))


def test_a_missing_file_or_a_wrong_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("QWEN3LAB_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="nope.toml: no such file"):
        get_config()
    monkeypatch.delenv("QWEN3LAB_CONFIG")
    monkeypatch.setenv("QWEN3LAB_LORA_RANK", "8")
    with pytest.raises(ConfigError, match="QWEN3LAB_LORA_RANK"):
        get_config()
    monkeypatch.delenv("QWEN3LAB_LORA_RANK")
    monkeypatch.setenv("QWEN3LAB_MAX_STEPS", "many")
    with pytest.raises(ConfigError, match="max_steps='many'.*QWEN3LAB_MAX_STEPS"):
        get_config()


def test_unknown_profile_names_the_choices(monkeypatch):
    monkeypatch.setenv("QWEN3LAB_PROFILE", "huge")
    with pytest.raises(ConfigError, match=r"unknown profile 'huge'.*\['full', 'tiny'\]"):
        get_config()


def test_round_trip_through_json(tmp_path):
    cfg = get_config("tiny", target_modules=("q_proj", "v_proj"), r=8)
    cfg.save(tmp_path / "config.json")
    assert Config.load(tmp_path / "config.json") == cfg


@pytest.mark.parametrize("bad", [-0.1, 1.5, math.nan, "0.5"])
def test_chat_percentage_out_of_range_is_refused(bad):
    with pytest.raises(ConfigError, match="chat_percentage"):
        Config(chat_percentage=bad)


@pytest.mark.parametrize("field,value", [("max_seq_length", 0), ("r", -8), ("max_steps", 1.5), ("r", True),
                                         ("length_policy", "ignore"), ("unsloth_loader", "FastVisionModel"),
                                         ("keep_dequantized", "auto"), ("keep_dequantized", 1), ("fp8_frozen", None),
                                         ("pad_to_multiple_of", 0), ("pad_to_multiple_of", True),
                                         ("report_to", "wandb"), ("target_modules", "q_proj")])
def test_invalid_values_are_refused_with_the_field_name(field, value):
    with pytest.raises(ConfigError, match=field):
        Config(**{field: value})


def test_describe_lists_every_field():
    text = describe(PROFILES["tiny"])
    assert all(name in text for name in PROFILES["tiny"].to_dict())


# -- every field's type and range, from every source (issue 22) ---------------------------------------

@pytest.mark.parametrize("field,value", [
    ("learning_rate", math.nan), ("learning_rate", -1), ("learning_rate", 0), ("learning_rate", math.inf),
    ("warmup_steps", -5), ("lora_dropout", 1.0), ("weight_decay", -0.1), ("seed", -1), ("seed", 2**32),
    ("random_state", 2**40), ("target_modules", []), ("target_modules", ["q_proj", 3]),
    ("target_modules", ["q_proj", "q_proj"]), ("target_modules", [" q_proj"]), ("use_gradient_checkpointing", "yes"),
    ("model_name", ""), ("optim", " "), ("eval_reasoning_rows", 0), ("tiny_num_key_value_heads", 0),
    ("tiny_num_key_value_heads", 3), ("tiny_head_dim", 15), ("max_new_tokens", -1)])
def test_values_that_failed_late_are_refused_at_once(field, value):
    """Each of these was accepted and failed far away (NaN losses, PEFT looking for modules 'q', 'p'...,
    a ZeroDivisionError while building the tiny model)."""
    with pytest.raises(ConfigError) as err:
        Config(**{field: value})
    shown = tuple(value) if isinstance(value, list) else value  # a list is kept as a tuple
    assert str(err.value).startswith(f"config field {field}={shown!r} must ") and "(from Config())" in str(err.value)


@pytest.mark.parametrize("field,value", [("learning_rate", "2e-4"), ("seed", "abc"), ("target_modules", "q_proj"),
                                         ("load_in_4bit", 1), ("r", 8.0)])
def test_values_of_the_wrong_type_are_refused_naming_the_type(field, value):
    """Already refused before issue 22; kept so that they stay refused."""
    with pytest.raises(ConfigError, match=f"config field {field}=.*has type {type(value).__name__}; expected"):
        get_config(**{field: value})


def test_every_field_has_a_type_and_a_rule():
    from dataclasses import fields

    for f in fields(Config):
        assert f.metadata["types"] and "allowed" in f.metadata, f.name
        numeric = set(f.metadata["types"]) & {int, float} and bool not in f.metadata["types"]
        if numeric or str in f.metadata["types"]:
            assert f.metadata["allowed"].says, f"{f.name} has no range"


def test_a_bad_value_names_its_source_file(tmp_path, monkeypatch):
    mine = tmp_path / "my.toml"
    mine.write_text("warmup_steps = -5\n")
    monkeypatch.setenv("QWEN3LAB_CONFIG", str(mine))
    with pytest.raises(ConfigError) as err:
        get_config()
    assert str(err.value).startswith(f"config field warmup_steps=-5 must be an integer >= 0 (from {mine}) "
                                     "[warmup_steps: steps over which")


@pytest.mark.parametrize("name,raw,fragment", [
    ("WARMUP_STEPS", "-5", "warmup_steps=-5 must be an integer >= 0 (from environment variable QWEN3LAB_WARMUP_STEPS)"),
    ("LEARNING_RATE", "nan", "learning_rate=nan must be a number > 0 and <= 1 (from environment variable "
                             "QWEN3LAB_LEARNING_RATE)"),
    ("LOAD_IN_4BIT", "1", "(write true or false)"),
    ("TARGET_MODULES", "q_proj", '(write a list: ["q_proj", "v_proj"])'),
    ("TINY_NUM_KEY_VALUE_HEADS", "3", "=3 must divide tiny_num_attention_heads=4 (grouped-query attention shares each "
                                      "key/value head among the same number of query heads) (from environment "
                                      "variable QWEN3LAB_TINY_NUM_KEY_VALUE_HEADS)"),
])
def test_a_bad_variable_is_named_alone(monkeypatch, name, raw, fragment):
    monkeypatch.setenv("QWEN3LAB_R", "16")  # a good variable beside it is not blamed
    monkeypatch.setenv("QWEN3LAB_" + name, raw)
    with pytest.raises(ConfigError) as err:
        get_config()
    assert fragment in str(err.value) and "QWEN3LAB_R," not in str(err.value)


def test_keywords_replace_and_a_saved_config_name_their_source(tmp_path):
    with pytest.raises(ConfigError, match=r"warmup_steps=-5 must .* \(from get_config\(warmup_steps=\.\.\.\)\)"):
        get_config(warmup_steps=-5)
    with pytest.raises(ConfigError, match=r"learning_rate=-1 must .* \(from replace\(learning_rate=\.\.\.\)\)"):
        get_config().replace(learning_rate=-1)
    with pytest.raises(ConfigError, match=r"seed='abc' has type str; expected int \(from Config\(\)\); allowed: an "
                                          r"integer from 0 to 2\*\*32 - 1"):
        Config(seed="abc")
    saved = tmp_path / "config.json"
    saved.write_text('{"r": 0}')
    with pytest.raises(ConfigError, match=rf"r=0 must be an integer from 1 to 4,096 \(from {saved}\)"):
        Config.load(saved)
    saved.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="expected an object of config fields"):
        Config.load(saved)


def test_the_profiles_and_every_boundary_value_pass():
    for cfg in PROFILES.values():
        assert Config(**{k: v for k, v in cfg.to_dict().items()}) == cfg
    Config(learning_rate=1, warmup_steps=0, lora_dropout=0.99, weight_decay=0, seed=0, random_state=2**32 - 1,
           chat_percentage=1, use_gradient_checkpointing=False, target_modules=None, dataset_num_proc=None,
           tiny_num_key_value_heads=4, tiny_head_dim=2)


def test_the_package_s_other_variables_are_not_taken_for_unknown_fields(monkeypatch):
    # 08's converter override shares the prefix: setting it must not make every config fail
    from qwen3lab.gguf import CONVERTER_ENV

    monkeypatch.setenv(CONVERTER_ENV, "/opt/llama.cpp")
    assert get_config("tiny").profile == "tiny"


def test_optimizer_and_schedule_names_are_transformers_own_and_typos_are_refused_early():
    from transformers.trainer_utils import SchedulerType
    from transformers.training_args import OptimizerNames

    from qwen3lab.config import OPTIMIZERS, SCHEDULERS, ConfigError

    # the lists the config checks against are transformers' (this fails when transformers changes them)
    assert OPTIMIZERS == tuple(o.value for o in OptimizerNames)
    assert SCHEDULERS == tuple(s.value for s in SchedulerType)
    with pytest.raises(ConfigError, match=r"optim.*adamw_9bit.*closest: 'adamw_8bit'"):
        get_config("tiny", optim="adamw_9bit")
    with pytest.raises(ConfigError, match=r"lr_scheduler_type.*linaer.*closest: 'linear'"):
        get_config("tiny", lr_scheduler_type="linaer")
    assert get_config("tiny", optim="paged_adamw_8bit", lr_scheduler_type="cosine").optim == "paged_adamw_8bit"


def test_a_toml_file_with_a_bom_or_not_in_utf8_is_refused_naming_the_file(tmp_path, monkeypatch):
    from qwen3lab.config import ConfigError

    for name, raw, says in (("bom.toml", b"\xef\xbb\xbfr = 8\n", "byte-order mark"),
                            ("latin1.toml", "max_steps = 3 # caf\xe9\n".encode("latin-1"), "not UTF-8")):
        path = tmp_path / name
        path.write_bytes(raw)
        monkeypatch.setenv("QWEN3LAB_CONFIG", str(path))
        with pytest.raises(ConfigError, match=f"{path}.*{says}"):
            get_config()


@pytest.mark.parametrize("field, value", [("r", 10**30), ("tiny_hidden_size", 200_000), ("dataset_num_proc", 100_000),
                                          ("max_seq_length", 10**9)])
def test_values_past_any_machines_reach_are_refused_naming_the_range(field, value):
    from qwen3lab.config import ConfigError

    with pytest.raises(ConfigError, match=rf"{field}.*an integer from 1 to"):
        get_config("tiny", **{field: value})
