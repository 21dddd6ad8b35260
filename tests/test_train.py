"""Guards training (05_lora_training): the checks around SFTTrainer count and show the trained
tokens right and refuse data with nothing to learn (also prompts whose only trained tokens are the
template's empty think block and an end-of-turn token, issue 22); LoRA's trainable parameters match
the formula; and with the notebook's own upstream calls (Unsloth, TRL) the same seed gives the same
losses and a run killed while writing a checkpoint resumes from the last whole one to the same
final loss."""

import json
import os
import signal
import shutil
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest

from conftest import ROOT
from qwen3lab.model import expected_lora_parameters
from qwen3lab.tiny import QWEN3_8B, load_qwen3_tokenizer
from qwen3lab import train, workarounds
from qwen3lab.train import (METRICS, NoTrainableTokensError, checkpoints, log_table, logged, loss_summary,
                            masked_example, drop_untrainable_rows, trained_tokens)

SEVEN = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@pytest.fixture(scope="module")
def tokenizer():
    return load_qwen3_tokenizer()


def _trainer(tokenizer, rows):
    """What the checks read of an SFTTrainer: its (masked) data set and its tokenizer."""
    from datasets import Dataset

    return SimpleNamespace(train_dataset=Dataset.from_list(rows), processing_class=tokenizer)


def _row(tokenizer, prompt: str, reply: str | None):
    """A tokenized row, masked as train_on_responses_only does: only the reply is trained."""
    messages = [{"role": "user", "content": prompt}] + ([{"role": "assistant", "content": reply}] if reply else [])
    ids = tokenizer(tokenizer.apply_chat_template(messages, tokenize=False, enable_thinking=False))["input_ids"]
    start = len(tokenizer(tokenizer.apply_chat_template(messages[:1], tokenize=False, add_generation_prompt=True,
                                                        enable_thinking=False))["input_ids"]) if reply else len(ids)
    return {"input_ids": ids, "labels": [-100] * start + ids[start:]}


def test_masked_example_shows_the_trained_part_in_order(tokenizer):
    trainer = _trainer(tokenizer, [_row(tokenizer, "Hi", "Hello!")])
    example = masked_example(trainer, 0)
    assert example["trained"] == "Hello!<|im_end|>\n"
    assert [trained for trained, _ in example["spans"]] == [False, True]
    assert example["spans"][0][1].endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert example["trained_tokens"] == len(tokenizer("Hello!<|im_end|>\n")["input_ids"]) < example["tokens"]


def test_rows_without_a_trained_token_are_dropped_and_counted(tokenizer, capsys):
    trainer = _trainer(tokenizer, [_row(tokenizer, "Hi", "Hello!"), _row(tokenizer, "Hi", None),
                                   _row(tokenizer, "2+2?", "4")])
    counts = drop_untrainable_rows(trainer)
    assert counts["rows"] == 2 and counts["dropped"] == 1 and len(trainer.train_dataset) == 2
    assert counts["trained_tokens"] == sum(trained_tokens(trainer.train_dataset))
    assert "dropping 1 of 3 rows" in capsys.readouterr().out


def test_a_data_set_with_nothing_to_learn_is_refused_with_the_fix(tokenizer):
    trainer = _trainer(tokenizer, [_row(tokenizer, "Hi", None)] * 3)
    with pytest.raises(NoTrainableTokensError, match="all 3 rows.*chat template"):
        drop_untrainable_rows(trainer)


def _prompt_only(tokenizer, thinking: bool):
    """A prompt with no reply as the notebook's calls make it: rendered with the generation prompt, TRL's
    <|im_end|> appended, masked by train_on_responses_only up to and including <|im_start|>assistant\n."""
    text = tokenizer.apply_chat_template([{"role": "user", "content": "你好"}], tokenize=False,
                                         add_generation_prompt=True, enable_thinking=thinking)
    ids = tokenizer(text + "<|im_end|>")["input_ids"]
    start = len(tokenizer(text[:text.rindex("<|im_start|>assistant\n")] + "<|im_start|>assistant\n")["input_ids"])
    return {"input_ids": ids, "labels": [-100] * start + ids[start:]}


@pytest.mark.parametrize("thinking,trained", [(False, "<think>\n\n</think>\n\n<|im_end|>"), (True, "<|im_end|>")])
def test_prompts_without_a_reply_are_refused_in_both_thinking_modes(tokenizer, thinking, trained):
    """What Unsloth's train_on_responses_only leaves of them (measured with the notebook's calls): the
    empty think block and TRL's end-of-turn token. Before issue 22 they trained silently."""
    trainer = _trainer(tokenizer, [_prompt_only(tokenizer, thinking)] * 2)
    assert masked_example(trainer, 0)["trained"] == trained
    with pytest.raises(NoTrainableTokensError, match=r"all 2 rows have no answer.*empty think block"):
        drop_untrainable_rows(trainer)


def test_a_prompt_without_a_reply_among_replies_is_dropped(tokenizer, capsys):
    rows = [_row(tokenizer, "Hi", "Hello!"), _prompt_only(tokenizer, False), _row(tokenizer, "2+2?", "4")]
    trainer = _trainer(tokenizer, rows)
    counts = drop_untrainable_rows(trainer)
    assert (counts["rows"], counts["dropped"], len(trainer.train_dataset)) == (2, 1, 2)
    assert counts["trained_tokens"] == sum(trained_tokens(trainer.train_dataset))
    assert "dropping 1 of 3 rows with no answer" in capsys.readouterr().out


def test_a_reply_with_thinking_off_is_an_answer(tokenizer):
    """The trained part of a real thinking-off reply starts with the same empty think block."""
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, enable_thinking=False)
    ids = tokenizer(text)["input_ids"]
    start = len(tokenizer(text[:text.rindex("<|im_start|>assistant\n")] + "<|im_start|>assistant\n")["input_ids"])
    trainer = _trainer(tokenizer, [{"input_ids": ids, "labels": [-100] * start + ids[start:]}])
    assert masked_example(trainer, 0)["trained"].startswith("<think>\n\n</think>\n\nHello!")
    assert drop_untrainable_rows(trainer)["rows"] == 1


def test_rows_are_counted_in_the_data_sets_own_order(tokenizer):
    """After ``select`` or ``shuffle`` (an index over the Arrow table) the checks follow the rows as the
    data set lists them, not as the table stores them."""
    rows = [_row(tokenizer, "Hi", "Hello!"), _prompt_only(tokenizer, False), _row(tokenizer, "2+2?", "4")]
    trainer = _trainer(tokenizer, rows)
    trainer.train_dataset = trainer.train_dataset.select([2, 1, 0])
    assert trained_tokens(trainer.train_dataset) == [sum(x != -100 for x in rows[i]["labels"]) for i in (2, 1, 0)]
    assert drop_untrainable_rows(trainer)["dropped"] == 1
    assert trainer.train_dataset["input_ids"] == [rows[2]["input_ids"], rows[0]["input_ids"]]


def test_unmasked_rows_train_every_token(tokenizer):
    row = _row(tokenizer, "Hi", "Hello!")
    trainer = _trainer(tokenizer, [{"input_ids": row["input_ids"]}])
    assert masked_example(trainer, 0)["trained_tokens"] == len(row["input_ids"])
    with pytest.raises(KeyError, match="train_on_responses_only"):
        trained_tokens(trainer.train_dataset)


def test_lora_formula_gives_the_source_count_for_qwen3_8b():
    assert expected_lora_parameters(QWEN3_8B, 32, SEVEN) == 87_293_952
    assert expected_lora_parameters(QWEN3_8B, 16, ["q_proj"]) == 36 * 16 * (4096 + 4096)
    with pytest.raises(KeyError, match="lm_head"):
        expected_lora_parameters(QWEN3_8B, 32, ["lm_head"])


def test_loss_summary_and_log_table():
    history = [{"loss": 10.0 - i, "grad_norm": 0.5, "step": i + 1} for i in range(10)] + [{"train_loss": 5.0, "step": 10}]
    summary = loss_summary(history, window=3)
    assert summary["first"] == 9.0 and summary["last"] == 2.0 and summary["drop"] == 7.0
    with pytest.raises(ValueError, match="only 10 losses"):
        loss_summary(history, window=6)
    assert list(log_table(history).index) == list(range(1, 11))
    assert logged(history, "grad_norm")[0] == (1, 0.5)
    assert set(METRICS) >= {"loss", "grad_norm", "learning_rate", "step"} and "10" in METRICS["grad_norm"][2]
    assert METRICS["step"][0] == "train/global_step" and "裁剪" in METRICS["grad_norm"][1]  # logged before clipping


def test_checkpoints_are_listed_in_step_order(tmp_path):
    for step in (10, 5, 15):
        (tmp_path / f"checkpoint-{step}").mkdir()
    (tmp_path / "checkpoint-last").mkdir()
    assert [p.name for p in checkpoints(tmp_path)] == ["checkpoint-5", "checkpoint-10", "checkpoint-15"]


def _weights(file):
    import numpy as np
    from safetensors.numpy import save_file

    save_file({"lora_A": np.ones((4, 8), dtype=np.float32)}, str(file))


def _checkpoint(run, step, state: str | None):
    path = run / f"checkpoint-{step}"
    path.mkdir(parents=True)
    _weights(path / "adapter_model.safetensors")
    if state is not None:
        (path / "trainer_state.json").write_text(state)
    return path


def test_resuming_skips_checkpoints_cut_off_while_being_written(tmp_path, capsys):
    run = tmp_path / "run"
    whole = _checkpoint(run, 3, '{"global_step": 3, "log_history": []}')
    _checkpoint(run, 6, None)  # killed before the trainer wrote its state
    _checkpoint(run, 9, '{"global_step": 9, "log_hi')  # killed while writing it
    assert workarounds.last_complete_checkpoint(run) == whole
    out = capsys.readouterr().out
    assert "checkpoint-9 was not written to the end (its trainer_state.json is cut short)" in out
    assert "checkpoint-6 was not written to the end (no trainer_state.json" in out
    assert [p.name for p in checkpoints(run)] == ["checkpoint-3"]  # what resume_from_checkpoint=True now finds
    assert sorted(p.name for p in (run / "incomplete").iterdir()) == ["checkpoint-6", "checkpoint-9"]
    assert (run / "incomplete" / "checkpoint-6" / "adapter_model.safetensors").stat().st_size > 0  # kept


def test_a_checkpoint_whose_adapter_is_cut_is_not_resumed_from(tmp_path, capsys):
    """trainer_state.json is whole, but the adapter's weights were cut short (a copy, a full disk)."""
    run = tmp_path / "run"
    whole = _checkpoint(run, 3, '{"global_step": 3, "log_history": []}')
    cut = _checkpoint(run, 6, '{"global_step": 6, "log_history": []}')
    weights = cut / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-16])
    assert workarounds.last_complete_checkpoint(run) == whole
    assert "checkpoint-6 was not written to the end (its adapter_model.safetensors is cut short)" in \
        capsys.readouterr().out


def test_resuming_with_no_whole_checkpoint_starts_at_step_0(tmp_path, capsys):
    run = tmp_path / "run"
    _checkpoint(run, 6, None)
    (run / "incomplete" / "checkpoint-6").mkdir(parents=True)  # set aside by an earlier call
    assert workarounds.last_complete_checkpoint(run) is None
    assert "training starts at step 0" in capsys.readouterr().out
    assert sorted(p.name for p in (run / "incomplete").iterdir()) == ["checkpoint-6", "checkpoint-6-2"]
    assert workarounds.last_complete_checkpoint(tmp_path / "empty") is None


# -- the notebook's calls, killed and resumed ---------------------------------------------------------

_RUN = """
import json, os, shutil, signal
import qwen3lab as q
q.bootstrap()  # as a notebook's first cell: Unsloth before transformers
from datasets import Dataset
from transformers import TrainerCallback
from trl import SFTConfig, SFTTrainer
from unsloth import FastLanguageModel
from unsloth.chat_templates import train_on_responses_only

MODE = "__MODE__"
KEEP_DTYPE = os.environ.get("KEEP_DTYPE", "1") == "1"  # 0: resume as transformers and PEFT do by themselves
cfg = q.get_config("tiny", max_steps=6, save_steps=3, warmup_steps=2, gradient_accumulation_steps=2)
model, tokenizer = FastLanguageModel.from_pretrained(model_name=q.model_name_or_path(cfg), max_seq_length=cfg.max_seq_length,
                                                     dtype=None, load_in_4bit=cfg.load_in_4bit)
model = FastLanguageModel.get_peft_model(model, r=cfg.r, target_modules=list(cfg.target_modules),
                                         lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout, bias=cfg.bias,
                                         use_gradient_checkpointing=cfg.use_gradient_checkpointing,
                                         random_state=cfg.random_state, use_rslora=False, loftq_config=None)
rows = []
for i in range(8):
    thinking = i % 2 == 0
    reply = f"<think>\\n{i} and {i} make {2 * i}\\n</think>\\n\\n{2 * i}" if thinking else f"{2 * i}."
    messages = [{"role": "user", "content": f"{i}+{i}?"}, {"role": "assistant", "content": reply}]
    rows.append({"text": tokenizer.apply_chat_template(messages, tokenize=False, enable_thinking=thinking)})
out = q.stage_dir("run")
args = SFTConfig(dataset_text_field="text", per_device_train_batch_size=cfg.per_device_train_batch_size,
                 gradient_accumulation_steps=cfg.gradient_accumulation_steps, warmup_steps=cfg.warmup_steps,
                 max_steps=cfg.max_steps, learning_rate=cfg.learning_rate, logging_steps=1, optim=cfg.optim,
                 weight_decay=cfg.weight_decay, lr_scheduler_type=cfg.lr_scheduler_type, seed=cfg.seed,
                 report_to="none", output_dir=str(out), save_steps=cfg.save_steps, max_length=cfg.max_seq_length)
trainer = SFTTrainer(model=model, tokenizer=tokenizer, train_dataset=Dataset.from_list(rows), args=args)
trainer = train_on_responses_only(trainer, instruction_part=q.INSTRUCTION_PART, response_part=q.RESPONSE_PART)

class Log(TrainerCallback):
    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            print("LOSS", state.global_step, logs["loss"], flush=True)

save_rng_state = trainer._save_rng_state
def save_rng_state_then_die(output_dir):
    if MODE == "kill" and trainer.state.global_step == 6:
        # as a crash or a closed laptop while checkpoint-6 is written: weights and optimizer are
        # there, the RNG state and trainer_state.json (written last) are not
        os.kill(os.getpid(), signal.SIGKILL)
    return save_rng_state(output_dir)
trainer._save_rng_state = save_rng_state_then_die

trainer.add_callback(Log())
if MODE == "in-process":  # as notebook 05: stop after checkpoint-3, resume in the same process
    stop = q.stop_after(3)
    trainer.add_callback(stop)
    trainer.train()
    trainer.remove_callback(stop)
    q.fresh_optimizer(trainer)
if MODE in ("resume", "in-process") and KEEP_DTYPE:
    q.keep_adapter_dtype(trainer)
trainer.train(resume_from_checkpoint=q.last_complete_checkpoint(out) if MODE in ("resume", "in-process") else None)
trainable, total = model.get_nb_trainable_parameters()
print(json.dumps({"losses": [h["loss"] for h in trainer.state.log_history if "loss" in h],
                  "lora_dtypes": sorted({str(p.dtype) for n, p in model.named_parameters() if "lora_" in n}),
                  "trainable": trainable, "expected": q.expected_lora_parameters(model.config, cfg.r, SEVEN),
                  "checkpoints": [p.name for p in q.checkpoints(out)],
                  "incomplete": sorted(p.name for p in (out / "incomplete").glob("*"))}))
""".replace("SEVEN", repr(SEVEN))


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


def test_same_seed_same_losses_and_a_run_killed_while_saving_resumes_to_the_same_loss(tmp_path):
    env = {"QWEN3LAB_PROFILE": "tiny"}
    whole = _run("whole", {**env, "QWEN3LAB_HOME": str(tmp_path / "a")})
    result = json.loads(whole.stdout.splitlines()[-1])
    assert result["trainable"] == result["expected"] == 77_824  # 2 layers x 38,912 at r=32
    assert result["checkpoints"] == ["checkpoint-3", "checkpoint-6"]

    killed = _run("kill", {**env, "QWEN3LAB_HOME": str(tmp_path / "b")})
    first = _logged(killed)
    assert sorted(first) == [1, 2, 3, 4, 5, 6]
    assert first == pytest.approx({s: result["losses"][s - 1] for s in first}, abs=1e-6)  # same seed, same losses
    partial = tmp_path / "b" / "runs" / "lora" / "checkpoint-6"
    assert partial.is_dir() and not (partial / "trainer_state.json").exists()  # what broke resume_from_checkpoint=True

    shutil.copytree(tmp_path / "b", tmp_path / "c")
    upstream = json.loads(_run("resume", {**env, "QWEN3LAB_HOME": str(tmp_path / "c"), "KEEP_DTYPE": "0"})
                          .stdout.splitlines()[-1])
    # without q.keep_adapter_dtype, PEFT's load_adapter casts the bfloat16 LoRA weights to float32:
    # once this fails, upstream keeps the dtype and the workaround can go
    assert result["lora_dtypes"] == ["torch.bfloat16"] and upstream["lora_dtypes"] == ["torch.float32"]
    assert upstream["losses"][3:] != result["losses"][3:]

    resuming = _run("resume", {**env, "QWEN3LAB_HOME": str(tmp_path / "b")})
    assert "checkpoint-6 was not written to the end" in resuming.stdout
    resumed = json.loads(resuming.stdout.splitlines()[-1])
    assert sorted(_logged(resuming)) == [4, 5, 6]  # from the whole checkpoint-3
    assert resumed["checkpoints"] == ["checkpoint-3", "checkpoint-6"] and resumed["incomplete"] == ["checkpoint-6"]
    assert len(resumed["losses"]) == 6
    # the resumed steps train the same bfloat16 weights as the uninterrupted run, to the same losses
    assert resumed["lora_dtypes"] == ["torch.bfloat16"]
    assert resumed["losses"][3:] == pytest.approx(result["losses"][3:], abs=1e-6)


def test_a_run_resumed_in_the_same_process_trains_the_reloaded_adapter(tmp_path):
    # notebook 05 interrupts and resumes in one kernel: without q.fresh_optimizer the kept optimizer
    # steps the LoRA tensors that resuming replaced, and steps 4-6 change nothing the model uses
    env = {"QWEN3LAB_PROFILE": "tiny"}
    whole = json.loads(_run("whole", {**env, "QWEN3LAB_HOME": str(tmp_path / "a")}).stdout.splitlines()[-1])
    again = _run("in-process", {**env, "QWEN3LAB_HOME": str(tmp_path / "b")})
    assert sorted(_logged(again)) == [1, 2, 3, 4, 5, 6]
    resumed = json.loads(again.stdout.splitlines()[-1])
    assert resumed["lora_dtypes"] == whole["lora_dtypes"]
    assert resumed["losses"][3:] == pytest.approx(whole["losses"][3:], abs=1e-6)  # as an uninterrupted run
