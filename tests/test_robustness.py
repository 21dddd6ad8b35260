"""Guards, with the notebooks' own upstream calls on the tiny model (Unsloth, PEFT, TRL), two faults a
careless user met (issue 22): an adapter saved under one artifacts root must load after the root
is moved to another place or machine (its config names the base model by absolute path), and a
data set of prompts without replies must be refused in both thinking modes before training."""

import shutil

import pytest

import qwen3lab as q


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny model with LoRA, built and loaded from the artifacts root ``<tmp>/first``."""
    from unsloth import FastLanguageModel

    base = tmp_path_factory.mktemp("roots")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("QWEN3LAB_HOME", str(base / "first"))
        cfg = q.get_config("tiny")
        model, tokenizer = FastLanguageModel.from_pretrained(model_name=q.model_name_or_path(cfg), max_seq_length=256,
                                                             dtype=None, load_in_4bit=cfg.load_in_4bit)
        model = FastLanguageModel.get_peft_model(model, r=8, target_modules=["q_proj", "v_proj"], lora_alpha=8,
                                                 lora_dropout=0.0, bias="none", use_gradient_checkpointing=False,
                                                 random_state=cfg.random_state, use_rslora=False, loftq_config=None)
        yield base, cfg, model, tokenizer


@pytest.mark.parametrize("enable_thinking", [False, True])
def test_prompts_without_replies_are_refused_after_train_on_responses_only(tiny, tmp_path, enable_thinking):
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer
    from unsloth.chat_templates import train_on_responses_only

    _, _, model, tokenizer = tiny
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "你好"}], tokenize=False,
                                           add_generation_prompt=True, enable_thinking=enable_thinking)
    demo = SFTTrainer(model=model, tokenizer=tokenizer, train_dataset=Dataset.from_dict({"text": [prompt] * 2}),
                      args=SFTConfig(dataset_text_field="text", output_dir=str(tmp_path), report_to="none",
                                     max_steps=1))
    demo = train_on_responses_only(demo, instruction_part=q.INSTRUCTION_PART, response_part=q.RESPONSE_PART)
    assert q.masked_example(demo, 0)["trained_tokens"] > 0  # Unsloth trains on something: not an answer
    with pytest.raises(q.NoTrainableTokensError, match="no answer to train on"):
        q.drop_untrainable_rows(demo)


def test_an_adapter_loads_after_its_artifacts_root_moved(tiny, monkeypatch, capsys):
    from unsloth import FastLanguageModel

    base, cfg, model, tokenizer = tiny
    monkeypatch.setenv("QWEN3LAB_HOME", str(base / "first"))
    with q.atomic_dir(q.stage_dir("adapter")) as tmp:  # notebook 05's save
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        q.write_manifest(tmp, what="LoRA adapter", cfg=cfg, inputs={"run": str(q.stage_dir("run"))})
    shutil.move(base / "first", base / "moved")  # a workshop host copies the root to the room's machines
    monkeypatch.setenv("QWEN3LAB_HOME", str(base / "moved"))

    adapter_dir = q.require("adapter")  # notebook 06's load
    reloaded, _ = FastLanguageModel.from_pretrained(model_name=str(adapter_dir), max_seq_length=256, dtype=None,
                                                    load_in_4bit=cfg.load_in_4bit)
    assert hasattr(reloaded, "peft_config")
    assert "the artifacts root was moved or copied" in capsys.readouterr().out
    assert q.read_manifest("adapter")["inputs"] == {"run": "runs/lora"}
