"""Guards the artifacts contract: one movable root, manifests with config and versions, atomic
replacement (an interrupted write keeps the previous artifact) and 'run notebook NN first'."""

import json

import pytest

from qwen3lab.artifacts import (MissingArtifactError, artifacts_root, atomic_dir, atomic_write_text,
                                read_manifest, require, stage_dir, write_manifest)
from qwen3lab.config import get_config


def test_home_env_moves_the_root(home):
    assert artifacts_root() == home.resolve()
    assert stage_dir("mixed") == home.resolve() / "data" / "mixed"


def test_missing_stage_names_the_notebook(home):
    with pytest.raises(MissingArtifactError, match=r"run notebooks/04_sampling\.ipynb first"):
        require("mixed")


def test_manifest_records_config_and_versions(home):
    out = stage_dir("clean")
    out.mkdir(parents=True)
    cfg = get_config("tiny")
    write_manifest(out, what="test", cfg=cfg, inputs={"rows": 3})
    manifest = read_manifest("clean")
    assert manifest["config"] == cfg.to_dict()
    assert manifest["inputs"] == {"rows": 3}
    assert manifest["versions"]["transformers"] == "5.17.0"
    assert require("clean") == out


def test_versions_name_a_source_checkout(monkeypatch):
    """On the GPU machine qwen3lab runs from the checkout (PYTHONPATH), not pip-installed."""
    import importlib.metadata

    import qwen3lab
    from qwen3lab import artifacts

    real = importlib.metadata.version

    def version(name):
        if name == "qwen3lab":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    versions = artifacts.library_versions()
    assert versions["qwen3lab"] == f"{qwen3lab.__version__}+source"
    assert versions["torch"] == real("torch")


def test_atomic_dir_replaces_on_success(home):
    final = home / "thing"
    with atomic_dir(final) as tmp:
        (tmp / "a.txt").write_text("one")
    with atomic_dir(final) as tmp:
        (tmp / "b.txt").write_text("two")
    assert sorted(p.name for p in final.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in home.iterdir()) == ["thing"]


def test_interrupted_atomic_dir_keeps_the_previous_artifact(home):
    final = home / "thing"
    with atomic_dir(final) as tmp:
        (tmp / "a.txt").write_text("one")
    with pytest.raises(KeyboardInterrupt):
        with atomic_dir(final) as tmp:
            (tmp / "partial.txt").write_text("half")
            raise KeyboardInterrupt
    assert (final / "a.txt").read_text() == "one"
    assert not (final / "partial.txt").exists()
    assert sorted(p.name for p in home.iterdir()) == ["thing"]


def test_atomic_write_text(home):
    path = home / "x" / "f.json"
    atomic_write_text(path, json.dumps({"a": 1}))
    assert json.loads(path.read_text()) == {"a": 1}
    assert sorted(p.name for p in path.parent.iterdir()) == ["f.json"]
