"""Shared fixtures: an isolated artifacts root, the tiny profile, and a subprocess runner."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh, empty artifacts root for one test."""
    monkeypatch.setenv("QWEN3LAB_HOME", str(tmp_path / "artifacts"))
    return tmp_path / "artifacts"


@pytest.fixture(scope="session")
def shared_home(tmp_path_factory) -> Path:
    """One artifacts root for the session's model-building tests (the tiny model is built once)."""
    path = tmp_path_factory.mktemp("shared") / "artifacts"
    os.environ["QWEN3LAB_HOME"] = str(path)
    return path


def run_python(code: str, *, env: dict[str, str] | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (a fresh backend choice) and return the finished process."""
    full_env = {**os.environ, "QWEN3LAB_PROFILE": "tiny", **(env or {})}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"subprocess failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return proc


def last_json(proc: subprocess.CompletedProcess):
    """The JSON object a subprocess printed on its last line starting with '{'."""
    import json

    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise AssertionError(f"no JSON line in output:\n{proc.stdout[-3000:]}")
