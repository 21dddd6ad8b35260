"""Guards training (05_lora_training): the loss covers the assistant's tokens only, exactly where
Unsloth's masking puts it; a data set or batch with nothing to learn fails loudly; LoRA's trainable
parameters match the formula; SwanLab never stops a run (no login, a bad SWANLAB_PROJECT, not
installed); and on both backends the same seed gives the same losses and a run killed mid-way
resumes from its checkpoint to the same final loss."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT
from qwen3lab.backend import response_only_labels
from qwen3lab.config import get_config
from qwen3lab.tiny import QWEN3_8B, load_qwen3_tokenizer
from qwen3lab.train import (RESPONSE_PART, NoTrainableTokensError, TrainableBatches, expected_lora_parameters,
                            loss_summary, require_responses, start_swanlab, swanlab_report_to, tokenize_text)

SEVEN = ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"]


@pytest.fixture(scope="module")
def tokenizer():
    return load_qwen3_tokenizer()


def _render(tokenizer, messages, thinking):
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False,
                                         enable_thinking=thinking)


CONVERSATIONS = [
    ([{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "<think>\nadd\n</think>\n\n4"}], True),
    ([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}], False),
    ([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "One?"},
      {"role": "assistant", "content": "1"}, {"role": "user", "content": "Two?"},
      {"role": "assistant", "content": "2"}], False),
]


# -- response-only labels ---------------------------------------------------------------------------


def test_labels_keep_the_reply_and_its_end_token(tokenizer):
    text = _render(tokenizer, *CONVERSATIONS[1])
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    response = tokenizer(RESPONSE_PART, add_special_tokens=False)["input_ids"]
    labels = response_only_labels(ids, response, tokenizer.eos_token_id)
    kept = tokenizer.decode([t for t, label in zip(ids, labels) if label != -100])
    assert kept == "<think>\n\n</think>\n\nHello!<|im_end|>"
    assert labels[-1] == -100  # the newline after <|im_end|> belongs to no turn


def test_labels_of_a_truncated_reply_run_to_the_end():
    assert response_only_labels([7, 1, 2, 3, 4], [1, 2], end_id=9) == [-100, -100, -100, 3, 4]
    assert response_only_labels([7, 8, 9], [1, 2], end_id=9) == [-100, -100, -100]


def test_labels_match_unsloths_train_on_responses_only(tokenizer):
    """The transformers backend's mask is Unsloth's, token for token, on the Qwen3 template."""
    pytest.importorskip("unsloth_zoo")
    from unsloth_zoo.dataset_utils import train_on_responses_only

    mask = train_on_responses_only(None, instruction_part="<|im_start|>user\n", response_part=RESPONSE_PART,
                                   tokenizer=tokenizer, return_function=True)
    response = tokenizer(RESPONSE_PART, add_special_tokens=False)["input_ids"]
    for messages, thinking in CONVERSATIONS:
        ids = tokenizer(_render(tokenizer, messages, thinking), add_special_tokens=False)["input_ids"]
        for row in (ids, ids[:-6]):  # whole, and truncated inside the last reply
            ours = response_only_labels(row, response, tokenizer.eos_token_id)
            assert ours == mask({"input_ids": [row]})["labels"][0]


def test_rows_without_a_reply_fail_before_training(tokenizer):
    from datasets import Dataset

    prompts = Dataset.from_list([{"text": _render(tokenizer, [{"role": "user", "content": "hi"}], False)}] * 3)
    with pytest.raises(NoTrainableTokensError, match=r"none of the 3 rows has an assistant reply.*notebook 04"):
        require_responses(tokenize_text(prompts, tokenizer), tokenizer)


def test_rows_longer_than_max_length_are_cut_and_counted(tokenizer, capsys):
    """make_trainer tokenizes with ``max_length=cfg.max_seq_length``: no row reaches the model longer
    (Unsloth's GPU trainer does not cut pre-tokenized rows of padded batches itself)."""
    from datasets import Dataset

    long, short = (_render(tokenizer, [{"role": "user", "content": "count"},
                                       {"role": "assistant", "content": " ".join(["one"] * n)}], False)
                   for n in (200, 3))
    whole = tokenize_text(Dataset.from_list([{"text": long}, {"text": short}]), tokenizer)["input_ids"]
    assert len(whole[0]) > 64 > len(whole[1])
    cut = tokenize_text(Dataset.from_list([{"text": long}, {"text": short}]), tokenizer, max_length=64)["input_ids"]
    assert cut == [whole[0][:64], whole[1]]
    assert "cut 1 of 2 rows to their first 64 tokens" in capsys.readouterr().out


def test_a_batch_with_no_trainable_label_raises():
    import torch

    collate = TrainableBatches(lambda rows: {"labels": torch.full((len(rows), 4), -100)})
    with pytest.raises(NoTrainableTokensError, match="a batch of 2 rows has no trainable label"):
        collate([{}, {}])
    ok = TrainableBatches(lambda rows: {"labels": torch.tensor([[-100, 5]])})
    assert ok([{}])["labels"].tolist() == [[-100, 5]]


# -- parameters, summaries ----------------------------------------------------------------------------


def test_lora_formula_gives_the_source_count_for_qwen3_8b():
    assert expected_lora_parameters(QWEN3_8B, 32, SEVEN) == 87_293_952
    assert expected_lora_parameters(QWEN3_8B, 16, ["q_proj"]) == 36 * 16 * (4096 + 4096)
    with pytest.raises(KeyError, match="lm_head"):
        expected_lora_parameters(QWEN3_8B, 32, ["lm_head"])


def test_loss_summary_compares_first_and_last_steps():
    history = [{"loss": 10.0 - i, "step": i + 1} for i in range(10)] + [{"train_loss": 5.0, "step": 10}]
    summary = loss_summary(history, window=3)
    assert summary["first"] == 9.0 and summary["last"] == 2.0 and summary["drop"] == 7.0
    with pytest.raises(ValueError, match="only 10 losses"):
        loss_summary(history, window=6)


# -- SwanLab never stops a run ------------------------------------------------------------------------


def test_swanlab_cloud_without_login_logs_offline_under_the_artifacts_root(home, tmp_path, monkeypatch, capsys):
    pytest.importorskip("swanlab")
    import swanlab

    monkeypatch.setenv("HOME", str(tmp_path / "nobody"))  # no stored API key
    monkeypatch.delenv("SWANLAB_API_KEY", raising=False)
    monkeypatch.setenv("SWANLAB_PROJECT", "my-project")  # swanlab 0.10.3 alone fails to parse this
    monkeypatch.chdir(tmp_path)
    log_dir = start_swanlab(get_config("tiny", swanlab_mode="cloud"), name="test")
    try:
        assert log_dir == home.resolve() / "swanlog"
        swanlab.log({"train/loss": 1.0}, step=1)
    finally:
        swanlab.finish()
    assert "logging offline instead" in capsys.readouterr().out
    assert any(log_dir.glob("run-*")) and not (tmp_path / "swanlog").exists()
    assert os.environ["SWANLAB_PROJECT"] == "my-project"


def test_report_to_falls_back_to_none_without_swanlab(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "swanlab" else real(name, *a))
    assert swanlab_report_to(get_config("tiny")) == "none"
    assert "SwanLab is not installed" in capsys.readouterr().out
    assert swanlab_report_to(get_config("tiny", report_to="none")) == "none"


# -- the pipeline on the tiny model, both backends ------------------------------------------------------

_RUN = """
import json, os, signal
import qwen3lab as q
from datasets import Dataset
from transformers import TrainerCallback

MODE = "__MODE__"
cfg = q.get_config("tiny", max_steps=6, save_steps=3, warmup_steps=2, gradient_accumulation_steps=2,
                   report_to="none")
model, tokenizer = q.load_model(cfg)
model = q.add_lora(model, cfg)
rows = []
for i in range(8):
    thinking = i % 2 == 0
    reply = f"<think>\\n{i} and {i} make {2 * i}\\n</think>\\n\\n{2 * i}" if thinking else f"{2 * i}."
    messages = [{"role": "user", "content": f"{i}+{i}?"}, {"role": "assistant", "content": reply}]
    rows.append({"text": q.render_chat(tokenizer, messages, enable_thinking=thinking, add_generation_prompt=False)})
trainer = q.make_trainer(model, tokenizer, Dataset.from_list(rows), cfg)

class Interrupt(TrainerCallback):
    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            print("LOSS", state.global_step, logs["loss"], flush=True)
    def on_save(self, args, state, control, **kwargs):
        if MODE == "kill" and state.global_step == 3:
            os.kill(os.getpid(), signal.SIGKILL)  # as a crash or a closed laptop: no cleanup

trainer.add_callback(Interrupt())
result = q.train(trainer, cfg, resume_from_checkpoint=True if MODE == "resume" else None)
trainable, total = q.trainable_parameters(model)
print(json.dumps({"backend": q.BACKEND, "losses": [h["loss"] for h in trainer.state.log_history if "loss" in h],
                  "trainable": trainable, "expected": q.expected_lora_parameters(model.config, cfg.r,
                                                                                 q.lora_target_modules(model)),
                  "checkpoints": [p.name for p in q.checkpoints()]}))
"""


def _run(mode: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(_RUN.replace("__MODE__", mode))], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=600)
    killed = proc.returncode == -signal.SIGKILL
    if (mode == "kill") != killed:
        raise AssertionError(f"{mode} run ended with {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


def _logged(proc) -> dict[int, float]:
    return {int(step): float(loss) for _, step, loss in
            (line.split() for line in proc.stdout.splitlines() if line.startswith("LOSS "))}


@pytest.mark.parametrize("backend", ["unsloth", "transformers"])
def test_same_seed_same_losses_and_a_killed_run_resumes_to_the_same_loss(backend, tmp_path):
    if backend == "unsloth":
        pytest.importorskip("unsloth")
    env = {"QWEN3LAB_BACKEND": backend, "QWEN3LAB_PROFILE": "tiny"}
    whole = _run("whole", {**env, "QWEN3LAB_HOME": str(tmp_path / "a")})
    result = json.loads(whole.stdout.splitlines()[-1])
    assert result["backend"] == backend
    assert result["trainable"] == result["expected"] == 77_824  # 2 layers x 38,912 at r=32
    assert result["checkpoints"] == ["checkpoint-3", "checkpoint-6"]

    killed = _run("kill", {**env, "QWEN3LAB_HOME": str(tmp_path / "b")})
    first = _logged(killed)
    assert sorted(first) == [1, 2, 3]
    assert first == pytest.approx({s: result["losses"][s - 1] for s in first}, abs=1e-6)  # same seed, same losses

    resumed = json.loads(_run("resume", {**env, "QWEN3LAB_HOME": str(tmp_path / "b")}).stdout.splitlines()[-1])
    assert len(resumed["losses"]) == 6
    assert resumed["losses"][-1] == pytest.approx(result["losses"][-1], abs=1e-4)
    assert resumed["losses"][3:] == pytest.approx(result["losses"][3:], abs=1e-4)
