"""Guards the artifacts contract: one movable root, manifests with config and versions, atomic
replacement (an interrupted write keeps the previous artifact) and 'run notebook NN first'; and
(issue 22) that no write deletes what qwen3lab did not create, that every interrupted write is
recovered, that a damaged file is named with the notebook that rewrites it, that a moved root
still loads, and that folders follow the umask."""

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT
from qwen3lab import artifacts
from qwen3lab.artifacts import (MissingArtifactError, artifacts_root, atomic_dir, atomic_write_text, read_manifest,
                                require, stage_dir, write_manifest)
from qwen3lab.config import get_config


def _manifest(folder):
    """What makes a folder a qwen3lab stage."""
    artifacts.write_manifest(folder, what="test", cfg={})


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
        _manifest(tmp)
    with atomic_dir(final) as tmp:
        (tmp / "b.txt").write_text("two")
    assert sorted(p.name for p in final.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in home.iterdir()) == ["thing"]


def test_interrupted_atomic_dir_keeps_the_previous_artifact(home):
    final = home / "thing"
    with atomic_dir(final) as tmp:
        (tmp / "a.txt").write_text("one")
        _manifest(tmp)
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


# -- nothing a user owns is replaced (issue 22) ------------------------------------------------------


def test_a_folder_of_the_users_is_refused_and_kept(home):
    final = home / "merged"
    final.mkdir(parents=True)
    (final / "my_notes.txt").write_text("mine")
    with pytest.raises(artifacts.UnownedTargetError,
                       match=rf"{final} holds files but no manifest.json.*replace_unowned=True"):
        with atomic_dir(final) as tmp:
            (tmp / "model.safetensors").write_text("weights")
    assert (final / "my_notes.txt").read_text() == "mine"
    assert sorted(p.name for p in home.iterdir()) == ["merged"]  # nothing hidden left beside it
    with atomic_dir(final, replace_unowned=True) as tmp:  # the caller says so
        (tmp / "model.safetensors").write_text("weights")
    assert sorted(p.name for p in final.iterdir()) == ["model.safetensors"]


def test_another_programs_manifest_json_does_not_make_a_folder_ours(home):
    """A user's folder may hold a manifest.json of its own (a web app's, say): it is refused and kept."""
    final = home / "adapter"
    final.mkdir(parents=True)
    (final / "manifest.json").write_text('{"name": "my app"}')
    (final / "index.html").write_text("<html></html>")
    for text in ('{"name": "my app"}', "not json", '["what", "inputs"]'):
        (final / "manifest.json").write_text(text)
        assert not artifacts.is_stage(final)
        with pytest.raises(artifacts.UnownedTargetError, match="no manifest.json of qwen3lab's"):
            with atomic_dir(final) as tmp:
                (tmp / "adapter_model.safetensors").write_text("weights")
        assert (final / "index.html").read_text() == "<html></html>"
    _manifest(final)
    assert artifacts.is_stage(final)


def test_an_empty_folder_or_a_stage_of_ours_is_replaced(home):
    final = home / "adapter"
    final.mkdir(parents=True)
    with atomic_dir(final) as tmp:
        _manifest(tmp)
    with atomic_dir(final) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in final.iterdir()) == ["new.txt"]


def test_a_file_in_the_way_is_refused_and_kept(home):
    home.mkdir()
    target = home / "merged"
    target.write_text("a file of the user's")
    with pytest.raises(artifacts.UnownedTargetError, match=f"{target} is a file"):
        with atomic_dir(target) as tmp:
            (tmp / "x").write_text("x")
    assert target.read_text() == "a file of the user's"
    assert sorted(p.name for p in home.iterdir()) == ["merged"]  # no .merged.old-PID left behind


def test_a_failed_swap_puts_the_previous_stage_back(home, monkeypatch):
    final = home / "adapter"
    with atomic_dir(final) as tmp:
        (tmp / "a.txt").write_text("one")
        _manifest(tmp)
    real = os.replace

    def failing(src, dst):
        if ".tmp-" in str(src) and str(dst) == str(final):
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(artifacts.os, "replace", failing)
    with pytest.raises(OSError, match="No space left"):
        with atomic_dir(final) as tmp:
            (tmp / "b.txt").write_text("two")
    assert (final / "a.txt").read_text() == "one" and not (final / "b.txt").exists()
    assert sorted(p.name for p in home.iterdir()) == ["adapter"]


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_leftovers_of_dead_writes_are_removed_and_a_live_writes_kept(home):
    final = home / "adapter"
    with atomic_dir(final) as tmp:
        _manifest(tmp)
    dead, live = _dead_pid(), subprocess.Popen(["sleep", "30"])
    try:
        for name in (f".adapter.tmp-{dead}-0", f".adapter.old-{dead}-0", ".adapter.tmp-x8k2_q",
                     f".adapter.tmp-{live.pid}-0"):
            (home / name).mkdir()
        with atomic_dir(final) as tmp:
            _manifest(tmp)
        assert sorted(p.name for p in home.iterdir()) == [f".adapter.tmp-{live.pid}-0", "adapter"]
    finally:
        live.kill()


def test_a_stage_cut_off_between_its_two_renames_is_put_back(home, capsys):
    """Killed after the old stage moved aside and before the new one moved in: no stage at its place."""
    final = stage_dir("clean")
    final.parent.mkdir(parents=True)
    aside = final.parent / f".clean.old-{_dead_pid()}-0"
    aside.mkdir()
    _manifest(aside)
    (aside / "rows.txt").write_text("rows")
    assert require("clean") == final and (final / "rows.txt").read_text() == "rows"
    assert "put back" in capsys.readouterr().out
    assert sorted(p.name for p in final.parent.iterdir()) == ["clean"]


_KILLED = """
import os, signal, sys
from qwen3lab import artifacts
final, where = artifacts.stage_dir("adapter"), sys.argv[2]
real = os.replace
def replace(src, dst):
    if where == "swap" and str(dst) == str(final):
        os.kill(os.getpid(), signal.SIGKILL)  # between the two renames
    return real(src, dst)
os.replace = replace
with artifacts.atomic_dir(final) as tmp:
    (tmp / "new.txt").write_text("half")
    if where == "write":
        os.kill(os.getpid(), signal.SIGKILL)  # while writing
"""


@pytest.mark.parametrize("where", ["write", "swap"])
def test_a_killed_write_keeps_the_previous_stage_and_the_next_write_cleans_up(home, where):
    final = stage_dir("adapter")
    with atomic_dir(final) as tmp:
        (tmp / "old.txt").write_text("previous")
        _manifest(tmp)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(_KILLED), str(ROOT / "qwen3lab" / "artifacts.py"),
                           where], env={**os.environ, "QWEN3LAB_HOME": str(home)}, capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert len(list(home.iterdir())) == 2  # the stage (or, killed mid-swap, only its moved-aside copy) + a leftover
    assert (require("adapter") / "old.txt").read_text() == "previous"
    with atomic_dir(final) as tmp:
        (tmp / "next.txt").write_text("next")
    assert sorted(p.name for p in home.iterdir()) == ["adapter"]


def test_stage_folders_and_files_follow_the_umask(home):
    import numpy as np
    from safetensors.numpy import save_file

    old = os.umask(0o022)
    try:
        with atomic_dir(stage_dir("merged")) as tmp:
            write_manifest(tmp, what="test", cfg={})
            save_file({"w": np.zeros(4, dtype=np.float32)}, str(tmp / "model.safetensors"))  # a 0600 writer
            (tmp / "sub").mkdir(mode=0o700)
        atomic_write_text(home / "summary.md", "text\n")
    finally:
        os.umask(old)
    merged = stage_dir("merged")
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in [merged, *merged.iterdir()]} == {
        "merged": "0o755", "manifest.json": "0o644", "model.safetensors": "0o644", "sub": "0o755"}
    assert stat.S_IMODE((home / "summary.md").stat().st_mode) == 0o644


# -- a damaged file is named, with the notebook that rewrites it (issue 22) ------------------------------


def _stage(name):
    final = stage_dir(name)
    final.mkdir(parents=True)
    write_manifest(final, what="test", cfg={})
    return final


def test_a_corrupt_manifest_names_the_file_and_the_notebook(home):
    final = _stage("mixed")
    (final / "manifest.json").write_text('{"what": "te')
    for read in (lambda: require("mixed"), lambda: read_manifest("mixed"), lambda: read_manifest(final)):
        with pytest.raises(artifacts.CorruptArtifactError, match=rf"{final}/manifest.json is not valid JSON .*run "
                                                       r"notebooks/04_sampling\.ipynb again"):
            read()


def test_a_damaged_adapter_names_the_file_and_the_notebook(home):
    import numpy as np
    from safetensors.numpy import save_file

    final = _stage("adapter")
    weights = final / "adapter_model.safetensors"
    save_file({"lora_A": np.zeros((4, 8), dtype=np.float32)}, str(weights))
    (final / "adapter_config.json").write_text('{"r": 8}')
    assert require("adapter") == final
    weights.write_bytes(weights.read_bytes()[:-10])  # a copy cut short
    with pytest.raises(artifacts.CorruptArtifactError, match=rf"{weights} has .* bytes where its header says .*"
                                                   r"notebooks/05_lora_training\.ipynb"):
        require("adapter")
    weights.write_bytes(b"\x00" * 100)
    with pytest.raises(artifacts.CorruptArtifactError, match=rf"{weights} is not a safetensors file"):
        require("adapter")
    weights.unlink()
    (final / "adapter_config.json").write_text('{"r": 8,')  # an edit by hand gone wrong
    with pytest.raises(artifacts.CorruptArtifactError,
                       match=r"adapter_config.json is not valid JSON.*05_lora_training"):
        require("adapter")


def test_a_damaged_data_set_names_the_file_and_the_notebook(home):
    from datasets import Dataset

    final = _stage("mixed")
    Dataset.from_dict({"text": [f"row {i}" * 50 for i in range(200)]}).save_to_disk(str(final / "dataset"))
    assert require("mixed") == final
    data = next((final / "dataset").glob("data-*.arrow"))
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    with pytest.raises(artifacts.CorruptArtifactError, match=rf"{data} is not a whole Arrow file.*04_sampling\.ipynb"):
        require("mixed")


def test_a_deleted_shard_of_a_saved_data_set_names_it_and_the_notebook(home):
    from datasets import Dataset

    final = _stage("mixed")
    Dataset.from_dict({"text": [f"row {i}" for i in range(20)]}).save_to_disk(str(final / "dataset"), num_shards=2)
    assert require("mixed") == final
    shard = sorted((final / "dataset").glob("data-*.arrow"))[1]
    shard.unlink()
    with pytest.raises(artifacts.CorruptArtifactError, match=rf"lacks {shard.name}, which its state.json lists.*"
                                                             r"04_sampling\.ipynb"):
        require("mixed")


def test_a_safetensors_header_of_another_shape_is_named_not_a_type_error(home):
    import json as _json

    final = _stage("adapter")
    weights = final / "adapter_model.safetensors"
    for header in ({"lora_A": [1, 2]}, {"lora_A": {"dtype": "F32"}}, {"lora_A": {"data_offsets": "x"}}):
        raw = _json.dumps(header).encode()
        weights.write_bytes(len(raw).to_bytes(8, "little") + raw)
        with pytest.raises(artifacts.CorruptArtifactError, match=rf"{weights} is not a safetensors file .*data_offsets"):
            require("adapter")


def test_a_leftover_whose_pid_a_later_process_took_is_still_put_back(home, capsys, monkeypatch):
    """The write that left .clean.old-<pid>-0 died; a process started since holds that pid."""
    import time
    from pathlib import Path

    final = stage_dir("clean")
    final.parent.mkdir(parents=True)
    later = subprocess.Popen(["sleep", "30"])
    try:
        aside = final.parent / f".clean.old-{later.pid}-0"
        aside.mkdir()
        _manifest(aside)
        assert not artifacts._started_after(later.pid, aside)  # renamed after it started: a live write's
        with pytest.raises(MissingArtifactError):
            require("clean")
        assert aside.is_dir()
        renamed = time.time() - 120  # now the rename happened two minutes before that process started
        real = Path.lstat

        class Renamed:
            def __init__(self, st):
                self.st = st

            def __getattr__(self, name):
                return renamed if name == "st_ctime" else getattr(self.st, name)

        monkeypatch.setattr(Path, "lstat", lambda self: Renamed(real(self)) if self == aside else real(self))
        assert require("clean") == final
        assert "put back" in capsys.readouterr().out
    finally:
        later.kill()


# -- a moved root still loads (issue 22) -----------------------------------------------------------------


def _adapter_on_tiny(root):
    """An adapter stage whose config names the tiny model under ``root`` by absolute path, as PEFT writes it."""
    (root / "models" / "tiny-qwen3").mkdir(parents=True)
    _manifest(root / "models" / "tiny-qwen3")
    (root / "adapter").mkdir()
    _manifest(root / "adapter")
    config = {"base_model_name_or_path": str(root / "models" / "tiny-qwen3"), "r": 8}
    (root / "adapter" / "adapter_config.json").write_text(json.dumps(config))


def test_a_copied_root_reads_its_own_base_model_not_the_originals(tmp_path, monkeypatch, capsys):
    """`cp -a rootB rootC`, then rootB's tiny model rebuilt with another shape: rootC's adapter must
    name rootC's tiny model, which is the one it was trained on."""
    _adapter_on_tiny(tmp_path / "b")
    shutil.copytree(tmp_path / "b", tmp_path / "c")
    monkeypatch.setenv("QWEN3LAB_HOME", str(tmp_path / "c"))
    config = json.loads((require("adapter") / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(tmp_path / "c" / "models" / "tiny-qwen3")
    assert "the artifacts root was moved or copied" in capsys.readouterr().out
    monkeypatch.setenv("QWEN3LAB_HOME", str(tmp_path / "b"))  # the original keeps its own
    config = json.loads((require("adapter") / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(tmp_path / "b" / "models" / "tiny-qwen3")
    assert capsys.readouterr().out == ""


def test_a_moved_root_repoints_the_adapters_base_model(tmp_path, monkeypatch, capsys):
    _adapter_on_tiny(tmp_path / "old")
    shutil.move(tmp_path / "old", tmp_path / "new")
    monkeypatch.setenv("QWEN3LAB_HOME", str(tmp_path / "new"))
    config = json.loads((require("adapter") / "adapter_config.json").read_text())
    assert config == {"base_model_name_or_path": str(tmp_path / "new" / "models" / "tiny-qwen3"), "r": 8}
    assert "the artifacts root was moved or copied" in capsys.readouterr().out
    require("adapter")  # once re-pointed, nothing more to do
    assert capsys.readouterr().out == ""


def test_a_moved_adapter_without_its_base_names_notebook_00(tmp_path, monkeypatch):
    _adapter_on_tiny(tmp_path / "old")
    (tmp_path / "new").mkdir()
    shutil.move(tmp_path / "old" / "adapter", tmp_path / "new" / "adapter")
    shutil.rmtree(tmp_path / "old")
    monkeypatch.setenv("QWEN3LAB_HOME", str(tmp_path / "new"))
    with pytest.raises(MissingArtifactError, match=r"base_model_name_or_path=.*is not on this machine.*run "
                                                   r"notebooks/00_setup\.ipynb first"):
        require("adapter")


def test_a_hub_id_or_an_existing_folder_is_left_alone(home):
    final = _stage("adapter")
    for base in ("unsloth/Qwen3-8B-unsloth-bnb-4bit", str(home)):
        (final / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": base}))
        require("adapter")
        assert json.loads((final / "adapter_config.json").read_text())["base_model_name_or_path"] == base


def test_manifest_inputs_under_the_root_are_relative(home):
    out = _stage("adapter")
    manifest = write_manifest(out, what="test", cfg={}, inputs={"mixed": str(stage_dir("mixed")), "hub": "a/b",
                                                              "elsewhere": "/opt/data"})
    assert manifest["inputs"] == {"mixed": "data/mixed", "hub": "a/b", "elsewhere": "/opt/data"}
