"""Shared fixtures: an isolated artifacts root for a test, and one for the session's model builds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import qwen3lab

ROOT = Path(__file__).resolve().parent.parent
# as each notebook's first cell (q.setup()) does: the tiny profile offline, Unsloth before transformers
qwen3lab.bootstrap()


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


def load_by_path(name: str, path: Path):
    """A script of tools/ loaded from its file (tools/ is not a package)."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
