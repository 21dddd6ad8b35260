"""qwen3lab.fast.speed_up, the one call between notebook 05's SFTConfig and SFTTrainer.

Guards what a learner sees and relies on: on a CPU (or with speed_layer off) nothing changes and
the table says why; on a card (simulated here by ``free_bytes``, the decision being the same on
any machine) the SFTConfig copy, the model, the environment and the callbacks carry out
fit_recipe's decision, with the source's values left as they were.
"""

import os

import pytest
import torch

from qwen3lab import fast  # conftest has imported Unsloth first (qwen3lab.bootstrap)
from qwen3lab.config import get_config
from qwen3lab.fast import fused_lora
from qwen3lab.fast.compile import UNSLOTH_VARLEN_SOURCES, StandardStridesPerPass
from qwen3lab.fast.recipe import GIB, TOKEN_BUDGET_ENV

bnb = pytest.importorskip("bitsandbytes")
from peft import LoraConfig, get_peft_model  # noqa: E402
from trl import SFTConfig  # noqa: E402

SETTINGS = ["per_device_train_batch_size", "gradient_accumulation_steps", "padding_free",
            "use_gradient_checkpointing", "gradient_checkpointing", TOKEN_BUDGET_ENV, "fused_lora",
            "frozen weights", "varlen dynamic_sources", "pass strides"]


class _Qwen3Layer(torch.nn.Module):
    """One 4-bit projection under a Qwen3 name, with Qwen3-8B's config (what fit_recipe scales by)."""

    def __init__(self):
        super().__init__()
        from transformers import Qwen3Config

        self.config = Qwen3Config(hidden_size=4096, intermediate_size=12288, num_hidden_layers=36,
                                  num_attention_heads=32, num_key_value_heads=8, head_dim=128, vocab_size=151_936)
        self.q_proj = bnb.nn.Linear4bit(64, 64, bias=False, compute_dtype=torch.bfloat16, quant_type="nf4")
        self.q_proj.weight = bnb.nn.Params4bit((torch.randn(64, 64) * 0.1).to(torch.bfloat16), requires_grad=False,
                                               quant_type="nf4", blocksize=64).to("cpu")

    def forward(self, x):
        return self.q_proj(x)


@pytest.fixture
def model():
    torch.manual_seed(0)
    return get_peft_model(_Qwen3Layer(), LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj"]))


@pytest.fixture
def args(tmp_path):
    """The source's SFTConfig (its arguments that matter here), as notebook 05 writes it."""
    return SFTConfig(output_dir=str(tmp_path), dataset_text_field="text", per_device_train_batch_size=2,
                     gradient_accumulation_steps=4, max_steps=3, report_to="none")


@pytest.fixture(autouse=True)
def clean_process_state(monkeypatch):
    """speed_up() writes UNSLOTH_TOKEN_BUDGET and torch.compile's dynamic sources: restore both."""
    monkeypatch.delenv(TOKEN_BUDGET_ENV, raising=False)
    monkeypatch.setattr(fast.speedup, "_EXPORTED", [None])
    with torch.compiler.config.patch(dynamic_sources=""):
        yield


def test_on_a_cpu_nothing_changes_and_the_table_says_why(model, args, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    speedup = fast.speed_up(model, args, get_config("full", speed_layer=True))
    assert speedup.args is args and speedup.callbacks == []
    table = speedup.table
    assert list(table.index) == SETTINGS and list(table.columns) == ["source", "fitted", "why"]
    assert table["source"].tolist() == table["fitted"].tolist()
    assert set(table["why"]) == {"no CUDA GPU: the source's value"}
    assert table.loc["per_device_train_batch_size", "fitted"] == 2
    assert table.loc["use_gradient_checkpointing", "fitted"] == "unsloth"  # what get_peft_model was given
    assert fused_lora.installed(model) == 0 and TOKEN_BUDGET_ENV not in os.environ
    assert torch.compiler.config.dynamic_sources == ""
    assert (args.per_device_train_batch_size, args.gradient_accumulation_steps) == (2, 4)


def test_speed_layer_off_changes_nothing_even_with_memory_to_spare(model, args, monkeypatch):
    speedup = fast.speed_up(model, args, get_config("full", speed_layer=False), free_bytes=72 * GIB)
    assert speedup.args is args and speedup.callbacks == []
    assert set(speedup.table["why"]) == {"cfg.speed_layer is off: the source's value"}
    assert fused_lora.installed(model) == 0
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the tiny profile on a CPU: both reasons
    speedup = fast.speed_up(model, args, get_config("tiny"))
    assert set(speedup.table["why"]) == {"cfg.speed_layer is off, and there is no CUDA GPU: the source's value"}


def test_a_large_card_gets_the_fitted_recipe_and_the_source_args_stay(model, args, monkeypatch):
    """72 GiB free at 2048 (an H100 after loading): 8 x 1 padding-free, checkpointing off, the
    frozen weights kept in FP8 (a GPU with FP8 tensor cores), both compile fixes."""
    monkeypatch.setattr(fast.recipe, "gpu_has_fp8", lambda: True)
    cfg = get_config("full", speed_layer=True, max_seq_length=2048, keep_dequantized=None)
    speedup = fast.speed_up(model, args, cfg, free_bytes=72 * GIB)
    fitted, recipe = speedup.args, speedup.recipe
    assert fitted is not args and type(fitted) is type(args)
    assert (fitted.per_device_train_batch_size, fitted.gradient_accumulation_steps) == (8, 1)
    assert fitted.padding_free is True and fitted.gradient_checkpointing is False
    assert (args.per_device_train_batch_size, args.gradient_accumulation_steps, args.padding_free,
            args.gradient_checkpointing) == (2, 4, False, True)  # the source's, for the table
    assert (fitted.max_steps, fitted.output_dir, fitted.report_to) == (args.max_steps, args.output_dir, args.report_to)
    assert recipe.keep_dequantized and recipe.fp8_frozen and recipe.use_gradient_checkpointing is False
    assert os.environ[TOKEN_BUDGET_ENV] == str(recipe.token_budget)  # read by SFTTrainer.__init__
    assert model._unsloth_gradient_checkpointing is False  # what Unsloth's trainer reads
    assert fused_lora.installed(model) == 1
    assert [type(c) for c in speedup.callbacks] == [fast.KeepDequantized, StandardStridesPerPass]
    assert speedup.callbacks[0].fp8 is True
    assert torch.compiler.config.dynamic_sources.split(",") == list(UNSLOTH_VARLEN_SOURCES)
    table = speedup.table
    assert list(table.index) == SETTINGS
    assert table.loc["per_device_train_batch_size", ["source", "fitted"]].tolist() == [2, 8]
    assert table.loc["gradient_accumulation_steps", ["source", "fitted"]].tolist() == [4, 1]
    assert table.loc["padding_free", ["source", "fitted"]].tolist() == [False, True]
    assert table.loc["use_gradient_checkpointing", ["source", "fitted"]].tolist() == ["unsloth", False]
    assert table.loc["gradient_checkpointing", ["source", "fitted"]].tolist() == [True, False]
    assert table.loc[TOKEN_BUDGET_ENV, ["source", "fitted"]].tolist() == [None, str(recipe.token_budget)]
    assert table.loc["fused_lora", "fitted"] == "1 layer as one operator"
    assert table.loc["frozen weights", "fitted"] == "kept in FP8 while training, products in FP8"
    assert "6.5 GiB" in table.loc["frozen weights", "why"]  # FP8: one byte a weight
    assert table.loc["pass strides", "fitted"] == "standard strides while training"
    assert "72.0 GiB free: all 8 rows" in table.loc["per_device_train_batch_size", "why"]
    assert (table["source"] != table["fitted"]).all()  # every setting changed, each with its reason
    assert table["why"].str.len().min() > 20


def test_a_small_card_keeps_unsloths_checkpointing_and_the_trainers_flag(model, args):
    assert fast.speed_up(model, args, get_config("full", speed_layer=True), free_bytes=16 * GIB).table.loc[
        "frozen weights", "why"] == "cfg.keep_dequantized is False (the default: opt-in)"
    speedup = fast.speed_up(model, args, get_config("full", speed_layer=True, keep_dequantized=None),
                         free_bytes=16 * GIB)  # 8192, 16 GiB
    assert speedup.recipe.use_gradient_checkpointing == "unsloth" and not speedup.recipe.keep_dequantized
    assert speedup.args.gradient_checkpointing is True and speedup.args.per_device_train_batch_size == 8
    assert not hasattr(model, "_unsloth_gradient_checkpointing")  # never switched: get_peft_model's mode stays
    table = speedup.table
    assert table.loc["use_gradient_checkpointing", "fitted"] == "unsloth"
    assert "only with it" in table.loc["use_gradient_checkpointing", "why"]
    assert table.loc["frozen weights", "why"] == "kept only without gradient checkpointing (the case measured)"
    assert [type(c) for c in speedup.callbacks] == [StandardStridesPerPass]


def test_too_little_memory_keeps_the_source_recipe_and_says_so(model, args):
    speedup = fast.speed_up(model, args, get_config("full", speed_layer=True), free_bytes=2 * GIB)
    assert speedup.args is args and speedup.recipe.token_budget is None
    table = speedup.table
    for name in ("per_device_train_batch_size", "gradient_accumulation_steps", "padding_free"):
        assert table.loc[name, "source"] == table.loc[name, "fitted"]
        assert table.loc[name, "why"].startswith("only 2.0 GiB free")
    assert table.loc[TOKEN_BUDGET_ENV, "fitted"] is None
    assert fused_lora.installed(model) == 1  # cfg.fused_lora: the operator helps any batch
    assert speedup.callbacks == []


def test_the_rows_per_step_are_the_sftconfigs(model, tmp_path):
    args = SFTConfig(output_dir=str(tmp_path), per_device_train_batch_size=4, gradient_accumulation_steps=4,
                     report_to="none")  # not cfg's 2 x 4
    speedup = fast.speed_up(model, args, get_config("full", speed_layer=True, max_seq_length=2048), free_bytes=72 * GIB)
    assert (speedup.args.per_device_train_batch_size, speedup.args.gradient_accumulation_steps) == (16, 1)


def test_the_free_memory_is_measured_when_not_given(model, args, monkeypatch):
    monkeypatch.setattr(fast.speedup, "free_gpu_bytes", lambda: 72 * GIB)
    speedup = fast.speed_up(model, args, get_config("full", speed_layer=True, max_seq_length=2048))
    assert speedup.recipe.reason.startswith("72.0 GiB free")  # + the LoRA weights on the GPU (none here)


def test_a_later_call_takes_its_own_budget_back_but_not_a_users(model, args, monkeypatch):
    fast.speed_up(model, args, get_config("full", speed_layer=True), free_bytes=72 * GIB)
    assert TOKEN_BUDGET_ENV in os.environ
    off = fast.speed_up(model, args, get_config("full", speed_layer=False))
    assert TOKEN_BUDGET_ENV not in os.environ  # an old budget would split the source's batches
    assert off.table.loc[TOKEN_BUDGET_ENV, "source"] is None
    monkeypatch.setenv(TOKEN_BUDGET_ENV, "5000")
    off = fast.speed_up(model, args, get_config("full", speed_layer=False))
    assert os.environ[TOKEN_BUDGET_ENV] == "5000" and off.table.loc[TOKEN_BUDGET_ENV, "fitted"] == "5000"


def test_the_mode_apply_records_is_the_one_unsloths_trainer_reads():
    """Unsloth's SFTTrainer.__init__ and trainer.train() call ``model.for_training`` with
    ``model._unsloth_gradient_checkpointing`` (unsloth/models/rl.py), which both loaders'
    get_peft_model record: if an upgrade renames it, speed_up's switch would be ignored."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("unsloth")
    if spec is None:
        pytest.skip("Unsloth is not installed")
    models = Path(spec.submodule_search_locations[0]) / "models"
    rl = (models / "rl.py").read_text()
    assert "_use_gc = model._unsloth_gradient_checkpointing if hasattr(model, '_unsloth_gradient_checkpointing')" in rl
    assert "use_gc = _model._unsloth_gradient_checkpointing" in rl
    for loader in ("llama.py", "vision.py"):
        assert "model._unsloth_gradient_checkpointing = use_gradient_checkpointing" in (models / loader).read_text()
    # the config's own flag: turned off for a model recorded False only while it holds TRL's default
    assert "honour_gradient_checkpointing_off(args, model)" in rl


def test_the_training_sets_measured_step_decides_whether_the_weights_are_kept(model, args, monkeypatch):
    """fast.speed_up(dataset=, tokenizer=) counts the rows' tokens and keeps the FP8 weights only where
    the budget left holds such a step: short rows on 132.8 GiB (an H200) keep them; rows at full
    length on 73 GiB (an 80 GB card) do not."""
    from datasets import Dataset

    from qwen3lab.fast.recipe import step_tokens
    from qwen3lab.tiny import load_qwen3_tokenizer

    monkeypatch.setattr(fast.recipe, "gpu_has_fp8", lambda: True)
    tokenizer = load_qwen3_tokenizer()
    texts = [("一个问题和它的回答。" * n) for n in range(50, 550, 10)]  # 50 rows of about 500 to 5,500 tokens
    dataset = Dataset.from_dict({"text": texts})
    cfg = get_config("full", speed_layer=True, keep_dequantized=None)
    short = fast.speed_up(model, args, cfg, dataset=dataset, tokenizer=tokenizer, free_bytes=int(132.8 * GIB)).recipe
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    expected = step_tokens(lengths, 8, cfg.max_seq_length)  # every row measured (fewer than 2,048), drawn in another order
    assert abs(short.step_size - expected) < 0.05 * expected, (short.step_size, expected)
    assert short.keep_dequantized and short.fp8_frozen
    full = Dataset.from_dict({"text": ["字" * 9000] * 20})  # every row cut at 8192: steps of 65,536 tokens
    long = fast.speed_up(model, args, cfg, dataset=full, tokenizer=tokenizer, free_bytes=73 * GIB).recipe
    assert long.step_size == 8 * 8192 and not long.keep_dequantized
    with pytest.raises(ValueError, match="needs tokenizer"):
        fast.speed_up(model, args, cfg, dataset=dataset, free_bytes=73 * GIB)
