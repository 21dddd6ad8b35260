"""Guards the preflight a learner meets first: the full profile on a machine that cannot run it
fails at once with what to do, and memory figures are reported in the units the notebooks print."""

import pytest

from qwen3lab import machine
from qwen3lab.config import get_config


def test_full_profile_without_cuda_fails_at_once_and_says_what_to_do(monkeypatch):
    monkeypatch.setattr(machine, "cuda_available", lambda: False)
    with pytest.raises(machine.MachineError, match="needs a CUDA GPU.*tiny profile.*docs/gpu.md"):
        machine.check_environment(get_config("full"))


def test_uncached_model_offline_says_how_to_prefill(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(machine.MachineError, match="hf download nobody/nothing"):
        machine.check_model_reachable("nobody/nothing")


def test_a_local_folder_and_the_tiny_profile_pass(tmp_path):
    machine.check_model_reachable(str(tmp_path))
    machine.check_environment(get_config("tiny"))


def test_memory_stats_are_gib_and_a_share():
    stats = machine.memory_stats()
    assert 0 < stats["now_gib"] <= stats["peak_gib"] < stats["total_gib"]
    assert 0 < stats["peak_share"] < 1 and stats["device"]
