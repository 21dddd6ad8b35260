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
