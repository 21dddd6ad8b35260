"""`make test-gpu` on a GPU machine without .venv: the Python the caller names is the one the
script runs, given as `PY=python3 make test-gpu` (as docs/gpu.md says) or `make test-gpu PY=...`.

Fails when the Makefile's own PY (.venv/bin/python, absent on such a machine) shadows the caller's
again: on the H200 on 2026-12-02 that stopped both series at once, with `.venv/bin/python: No such
file or directory`."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize("how", ["environment", "command line"])
def test_make_test_gpu_runs_the_callers_python(tmp_path, how):
    calls = tmp_path / "calls"
    fake = tmp_path / "python"
    fake.write_text(f'#!/bin/sh\necho "$*" >> {calls}\necho "no GPU here (fake python)" >&2\nexit 3\n')
    fake.chmod(0o755)
    env = {**os.environ, "QWEN3LAB_HOME": str(tmp_path / "home")}
    command = ["make", "-s", "test-gpu"]
    if how == "environment":
        env["PY"] = str(fake)
    else:
        command.append(f"PY={fake}")
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "no GPU here (fake python)" in run.stderr
    assert calls.read_text().splitlines()[0] == "- tiny"  # the script's first call: its profile check
    assert not (tmp_path / "home").exists()  # it stopped before touching the artifacts


def test_the_gpu_report_names_the_versions_and_what_the_environment_changed(tmp_path):
    """tools/test_gpu.sh end to end on a CPU, with a stand-in nvidia-smi and the profile check
    answered "tiny": its report names the library versions (read without importing Unsloth) and
    the config fields set through QWEN3LAB_<FIELD>, then the notebook's nbval result."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvidia-smi").write_text('#!/bin/sh\ncase "$*" in *-lms*) exec sleep 30;; *) echo "Stand-in GPU, 1 MiB, 0";; esac\n')
    real = ROOT / ".venv" / "bin" / "python"
    if not real.exists():
        pytest.skip("needs make setup's .venv")
    # the profile check reads its script from stdin ("-"): answer it as a machine with CUDA would
    (bin_dir / "python").write_text(f'#!/bin/sh\n[ "$1" = - ] && {{ cat > /dev/null; echo tiny; exit 0; }}\nexec {real} "$@"\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    nb = tmp_path / "01_one.ipynb"
    nb.write_text('{"cells": [{"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [], '
                  '"source": "assert 1 + 1 == 2"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n')
    home = tmp_path / "run" / "artifacts"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PY": str(bin_dir / "python"),
           "QWEN3LAB_HOME": str(home), "QWEN3LAB_R": "8", "QWEN3LAB_MAX_NEW_TOKENS": "64", "NOTEBOOKS": str(nb)}
    run = subprocess.run(["bash", "tools/test_gpu.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    report = (tmp_path / "run" / "gpu-report.txt").read_text()
    assert "profile=tiny" in report and "transformers=5.17.0" in report and "unsloth=2026.10.9" in report
    assert "Unsloth" not in report  # its banner: the versions line imported it (30 s more on the H200)
    assert "set from the environment: QWEN3LAB_MAX_NEW_TOKENS=64 QWEN3LAB_R=8" in report
    assert "QWEN3LAB_HOME" not in report.split("set from the environment:")[1].splitlines()[0]
    assert "01_one.ipynb                     passed" in report and "series: 1 of 1 notebooks passed" in report
