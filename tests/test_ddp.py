"""Guards the data-parallel run of notebook 05 (``tools/train_ddp.py``, ``qwen3lab/ddp.py``, issue 20):
two processes under torchrun with gloo must train the same run as one process with the same
effective batch (the same losses and gradient norms step by step, through the interruption and
the resume of sections 7 and 8), and leave exactly one adapter, one SwanLab run and one line of
output per message; and the cell rule and the batch split must stay what docs/gpu.md says.

The two launches start fresh interpreters (64 s for both on an idle 2-core machine): 6 steps of 4 rows
on 32 short conversations, the fewest the notebook's own asserts accept (its loss summary needs 6
logged steps).

Tolerances, measured on this tiny model (float32 compute, ``UNSLOTH_CPU_BF16=0``, so that every CPU
computes the same way; the LoRA weights stay bfloat16 as the checkpoint's, until the resume upcasts
them): the two runs see the same rows in each step from the same weights and differ only in the
order of summation (one process adds 4 micro-batch gradients on 2 threads; two processes add 2
each on 1 thread, and gloo adds the halves). Losses then differ by at most 1.2e-6 relative and
gradient norms by at most 1.7e-4 (not at all while the weights are bfloat16). The faults this guards
against are far larger: 8 rows per step instead of 4 moves the losses by up to 2.1e-3 and the
gradient norms by 39%; without the all-reduce after the resume (``rewrap_before_each_train``
removed) the first resumed step's gradient norm is 79% off; a loss not scaled for the processes
halves or doubles the gradient norms, which Adam's steps, and so the losses, barely show. Hence
rtol 1e-5 on losses and 1e-2 on gradient norms (above bfloat16's 2**-8 step).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "train_ddp.py"
LOSS_RTOL, GRAD_NORM_RTOL = 1e-5, 1e-2
RUN_ENV = {"QWEN3LAB_CONFIG": "", "QWEN3LAB_PROFILE": "tiny", "QWEN3LAB_MAX_STEPS": "6", "QWEN3LAB_SAVE_STEPS": "3",
           "QWEN3LAB_WARMUP_STEPS": "1", "QWEN3LAB_PER_DEVICE_TRAIN_BATCH_SIZE": "1",
           "QWEN3LAB_GRADIENT_ACCUMULATION_STEPS": "4", "UNSLOTH_CPU_BF16": "0", "TOKENIZERS_PARALLELISM": "false",
           "CUDA_VISIBLE_DEVICES": ""}  # gloo on the CPU also on a GPU machine


# -- pure parts, no process group ------------------------------------------------------------------

def test_split_rows_keeps_the_rows_per_step():
    from qwen3lab.ddp import split_rows

    assert [split_rows(2, 4, n) for n in (1, 2, 4, 8)] == [(2, 4), (2, 2), (2, 1), (1, 1)]
    assert split_rows(1, 4, 2) == (1, 2)
    with pytest.raises(ValueError, match="do not split evenly over 3 processes"):
        split_rows(2, 4, 3)


def test_cells_before_the_last_train_call_run_everywhere_the_rest_on_rank_0():
    import nbformat

    from qwen3lab.ddp import ddp_cells
    from qwen3lab.runner import runnable

    source = nbformat.read(ROOT / "notebooks" / "05_lora_training.ipynb", as_version=4)
    rank0, labels0 = ddp_cells(source, 0, {"summary": None, "keep_rows": False})
    rank1, labels1 = ddp_cells(source, 1, {"summary": None, "keep_rows": False})
    assert labels0 == labels1 and [labels0[0], labels0[-1]] == ["ddp.join", "ddp.finish"]
    split = labels0.index("ddp.after_training")
    assert "trainer.train(" in rank0.cells[max(i for i in runnable(rank0) if i < split)].source
    runs0, runs1 = runnable(rank0), runnable(rank1)
    assert runs1 == [i for i in runs0 if i <= split] + [len(labels0) - 1]  # then the others wait for rank 0
    later = "\n".join(rank0.cells[i].source for i in runs0 if i > split)
    assert "q.atomic_dir(adapter_dir)" in later and "plot_training" in later  # the adapter and the curves
    # the notebook's own cells keep their numbers (as JupyterLab counts) in messages; skip-ddp stays out
    assert all(labels0[i] == f"cell {i}" for i in range(1, split))
    skipped = [i for i, c in enumerate(source.cells) if "skip-ddp" in c.metadata.get("tags", [])]
    assert skipped and not {i + 1 for i in skipped} & set(runs0)
    assert len(source.cells) + 3 == len(rank0.cells)  # the source notebook is left as it was


def test_a_cpu_device_with_an_index_cannot_load_a_checkpoint():
    """The trap ``workarounds.plain_cpu_device`` avoids: when this passes no more, the workaround can go."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save({"state": torch.zeros(2)}, buffer)
    buffer.seek(0)
    with pytest.raises(RuntimeError, match="tagged with cpu:0"):
        torch.load(buffer, map_location=torch.device("cpu", 0), weights_only=True)


# -- two processes against one ---------------------------------------------------------------------

def _conversations(tokenizer, n: int) -> list[str]:
    rows = []
    for i in range(n):
        a, b = 3 + i, 7 + 2 * i
        messages = [{"role": "user", "content": f"What is {a} plus {b}?"},
                    {"role": "assistant", "content": f"{a} plus {b} is {a + b}."}]
        rows.append(tokenizer.apply_chat_template(messages, tokenize=False))
    return rows


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """An artifacts root with what notebook 05 reads: the tiny model (00) and a small mixed set (04)."""
    from datasets import Dataset

    import qwen3lab as q

    home = tmp_path_factory.mktemp("ddp") / "artifacts"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("QWEN3LAB_HOME", str(home))
        cfg = q.get_config("tiny")
        q.build_tiny_model(cfg)
        with q.atomic_dir(q.stage_dir("mixed")) as tmp:
            Dataset.from_dict({"text": _conversations(q.load_qwen3_tokenizer(), 32)}).save_to_disk(str(tmp / "dataset"))
            q.write_manifest(tmp, what="32 conversations for test_ddp", cfg=cfg)
    return home


def _train(home: Path, processes: int, summary: Path, *extra: str) -> tuple[dict, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QWEN3LAB_")}
    env.update(RUN_ENV, QWEN3LAB_HOME=str(home))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
               str(TOOL), "--summary", str(summary), *extra]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-6000:]}"
    return json.loads(summary.read_text()), done.stdout


def _close(a: list, b: list, rtol: float) -> bool:
    return [s for s, _ in a] == [s for s, _ in b] and all(abs(x - y) <= rtol * abs(x) for (_, x), (_, y) in zip(a, b))


def test_two_processes_train_the_same_run_as_one(inputs, tmp_path):
    one, _ = _train(inputs, 1, tmp_path / "one.json")
    runs_before = set((inputs / "swanlog").iterdir())
    two, out = _train(inputs, 2, tmp_path / "two.json", "--keep-rows")

    assert (one["processes"], two["processes"]) == (1, 2) and two["backend"] == "gloo"
    assert (one["per_device_train_batch_size"], one["gradient_accumulation_steps"]) == (1, 4)
    assert (two["per_device_train_batch_size"], two["gradient_accumulation_steps"]) == (1, 2)
    assert one["rows_per_step"] == two["rows_per_step"] == 4
    assert "effective batch: 1 per device x 2 processes x 2 accumulation = 4 rows per optimizer step" in out
    assert [step for step, _ in two["losses"]] == list(range(1, 7))
    assert _close(one["losses"], two["losses"], LOSS_RTOL), (one["losses"], two["losses"])
    assert _close(one["grad_norms"], two["grad_norms"], GRAD_NORM_RTOL), (one["grad_norms"], two["grad_norms"])
    assert two["all_processes"]["trained_tokens"] == one["all_processes"]["trained_tokens"] > 0

    # rank 0 alone wrote: one adapter, one SwanLab run, one copy of each line
    adapters = sorted(p.parent for p in inputs.rglob("adapter_config.json")
                      if "runs" not in p.relative_to(inputs).parts)  # checkpoints hold one each
    assert adapters == [inputs / "adapter"], adapters
    assert not [p for p in inputs.iterdir() if p.name.startswith(".adapter.")]
    assert json.loads((inputs / "adapter" / "manifest.json").read_text())["config"]["gradient_accumulation_steps"] == 2
    assert len(set((inputs / "swanlog").iterdir()) - runs_before) == 1
    assert out.count("planned batch:") == 1 and out.count("Unsloth 2026") == 1 and out.count("summary: ") == 1
    checkpoint = inputs / "runs" / "lora" / "checkpoint-6"
    assert {p.name for p in checkpoint.glob("rng_state_*.pth")} == {"rng_state_0.pth", "rng_state_1.pth"}
