"""Guards `python -m qwen3lab run --config FILE --from 03 --to 07` on the real series, tiny profile:
the headless run a host makes after a workshop. A config file's values must reach every kernel
(04 holds out the rows it says, 05 trains at its rank, 07 scores the held-out rows it was given),
no notebook may hard-code a profile's value that a config file can change, and the run must leave
the executed copies and the summary it promises. About 2 minutes on 2 idle CPU cores: 00 first (it
builds the tiny model every later notebook needs), then 03 to 07; then 09 (GRPO, its exercise 1) on a copy of the artifacts, about 30 s more."""

import csv
import json
import os
import shutil
import subprocess
import sys

import nbformat
import pytest
from datasets import load_from_disk

from conftest import ROOT
from qwen3lab.config import PROFILES

CONFIG = "r = 8\neval_reasoning_rows = 3\n"  # 05's exercise 1, as it is written
GRPO_CONFIG = CONFIG + "beta = 0.0\n"  # and 09's exercise 1: GRPO without a KL term (TRL's default)
TINY = PROFILES["tiny"]


def _run(home, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("QWEN3LAB_CONFIG", "JPY_SESSION_NAME")}
    env.update(QWEN3LAB_PROFILE="tiny", QWEN3LAB_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "qwen3lab", "run", "--home", str(home), "--no-progress", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    folder = tmp_path_factory.mktemp("headless")
    home = folder / "artifacts"
    setup = _run(home, "--to", "00")
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    (folder / "my.toml").write_text(CONFIG)
    (home / "runs" / "lora").mkdir(parents=True)
    (home / "runs" / "lora" / "notes.txt").write_text("the user's own notes")  # 05 clears only checkpoints
    done = _run(home, "--config", str(folder / "my.toml"), "--from", "03", "--to", "07")
    return home, done


def test_the_run_passes_03_to_07_and_says_so(series):
    home, done = series
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((home / "notebooks" / "summary.json").read_text())
    assert summary["passed"]
    assert summary["changed from the profile"] == "eval_reasoning_rows = 3, r = 8"  # the dataclass's order
    assert [(n["notebook"][:2], n["status"]) for n in summary["notebooks"]] == [
        (nn, "passed") for nn in ("03", "04", "05", "06", "07")]
    # every code cell ran, and each notebook checked something
    assert all(n["cells_run"] == n["code_cells"] > 0 and n["assert_lines"] > 0 for n in summary["notebooks"])
    # exactly the notebooks asked for: 00 from the first run, none of 01, 02, 08
    copies = sorted(p.name[:2] for p in (home / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert copies == ["00", "03", "04", "05", "06", "07"]
    assert "5 of 5 notebooks passed" in (home / "notebooks" / "summary.md").read_text()
    assert (home / "runs" / "lora" / "notes.txt").read_text() == "the user's own notes"


def test_the_config_file_reaches_every_kernel(series):
    home, done = series
    assert done.returncode == 0, done.stderr[-3000:]
    # the file changes both values: the profile's are others
    assert TINY.r != 8 and TINY.eval_reasoning_rows != 3
    # 04: three reasoning rows held out instead of the profile's; the chat rows the profile's
    mixed = json.loads((home / "data" / "mixed" / "manifest.json").read_text())
    assert mixed["config"]["eval_reasoning_rows"] == 3
    assert mixed["heldout"] == {"reasoning": 3, "chat": TINY.eval_chat_rows, "grpo": TINY.grpo_prompts}
    assert load_from_disk(str(home / "data" / "mixed" / "heldout" / "reasoning")).num_rows == 3
    # 05: the adapter was trained at rank 8, and the notebook printed the count for it
    assert json.loads((home / "adapter" / "adapter_config.json").read_text())["r"] == 8
    nb = nbformat.read(home / "notebooks" / "05_lora_training.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "本模型，r=8：可训练 19,456" in printed
    # 07: scored before and after on the three held-out reasoning rows
    with open(home / "eval" / "table.csv", newline="") as f:
        rows = {(r["mode"], r["metric"]): r for r in csv.DictReader(f)}
    assert float(rows["thinking on", "rows"]["before (base)"]) == 3.0
    assert float(rows["thinking on", "rows"]["after (adapter)"]) == 3.0
    assert float(rows["thinking off", "rows"]["after (adapter)"]) == TINY.eval_chat_rows


@pytest.fixture(scope="module")
def grpo(series, tmp_path_factory):
    home, done = series
    assert done.returncode == 0, done.stderr[-3000:]
    folder = tmp_path_factory.mktemp("grpo")
    shutil.copytree(home, folder / "artifacts", symlinks=True)
    (folder / "my.toml").write_text(GRPO_CONFIG)
    return folder / "artifacts", _run(folder / "artifacts", "--config", str(folder / "my.toml"), "--from", "09")


def test_09_runs_its_exercise_without_a_kl_term(grpo):
    """beta = 0: TRL builds no reference adapter and logs no KL; 09's asserts hold for it, and the
    GRPO adapter saved is the trained one alone."""
    home, done = grpo
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    manifest = json.loads((home / "grpo" / "manifest.json").read_text())
    assert manifest["config"]["beta"] == 0.0 and manifest["config"]["r"] == 8
    assert manifest["prompts"] == TINY.grpo_prompts and manifest["steps"] == TINY.grpo_max_steps
    with open(home / "grpo" / "history.csv", newline="") as f:
        steps = list(csv.DictReader(f))
    assert [int(s["step"]) for s in steps] == list(range(1, TINY.grpo_max_steps + 1))
    assert all(s["kl"] == "" for s in steps)  # no reference model, no KL
    assert json.loads((home / "grpo" / "adapter" / "adapter_config.json").read_text())["r"] == 8
    assert not (home / "grpo" / "adapter" / "ref").exists()
