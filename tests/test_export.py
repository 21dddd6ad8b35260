"""Guards the logit checks of 05 and 06: a probe stored beside an artifact reads back unchanged, a
missing one names the notebook to re-run, the difference refuses tensors of different shapes, and
the merge tolerance follows the dtype the merged model computes in, and 06 reloads the adapter with
the class 05 trained it with."""

import pytest
import torch

from qwen3lab.export import (MERGE_RELATIVE_TOLERANCE, RELOAD_TOLERANCE, folder_table, max_logit_diff,
                             merge_tolerance, probe_prompts, reload_tolerance, save_probe, stored_probe)
from qwen3lab.tiny import load_qwen3_tokenizer

from conftest import ROOT


def test_probe_round_trip_and_a_missing_probe(tmp_path):
    logits = torch.randn(2, 151_936)
    save_probe(logits, tmp_path)
    assert torch.equal(stored_probe(tmp_path), logits)
    with pytest.raises(FileNotFoundError, match="re-run the notebook"):
        stored_probe(tmp_path / "elsewhere")


def test_probe_prompts_are_one_question_in_both_modes():
    off, on = probe_prompts(load_qwen3_tokenizer())
    assert off == on + "<think>\n\n</think>\n\n" and on.endswith("<|im_start|>assistant\n")


def test_difference_and_tolerances():
    a = torch.zeros(2, 4)
    b = a.clone()
    b[1, 3] = -0.5
    assert max_logit_diff(a, b) == 0.5
    with pytest.raises(ValueError, match="different shapes"):
        max_logit_diff(a, torch.zeros(2, 5))
    reference = torch.tensor([[10.0, -20.0]])
    assert merge_tolerance(reference, torch.bfloat16) == pytest.approx(MERGE_RELATIVE_TOLERANCE["bfloat16"] * 20)
    assert merge_tolerance(reference, "float32") == pytest.approx(0.4)
    assert merge_tolerance(torch.zeros(1, 2)) == RELOAD_TOLERANCE  # never below the reload tolerance


def test_folder_table_lists_files_largest_first(tmp_path):
    (tmp_path / "big.bin").write_bytes(b"x" * 2048)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "small.txt").write_text("x")
    table = folder_table(tmp_path)
    assert list(table.index) == ["big.bin", "sub/small.txt"] and table.loc["big.bin", "bytes"] == 2048


def test_reload_tolerance_is_two_units_in_the_last_place_of_16_bits():
    reference = torch.tensor([[0.74, -0.1]])
    assert reload_tolerance(reference, torch.float32) == RELOAD_TOLERANCE
    assert reload_tolerance(reference, torch.bfloat16) == 2 * 2.0 ** -8  # the tiny profile: |logit| < 1
    assert reload_tolerance(reference, "float16") == 2 * 2.0 ** -11
    assert reload_tolerance(torch.tensor([[40.0]]), torch.bfloat16) == 2 * 2.0 ** (5 - 7)


def _code(notebook: str) -> str:
    import nbformat

    nb = nbformat.read(ROOT / "notebooks" / notebook, as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def test_06_reloads_the_adapter_with_the_class_05_trained_with():
    """On a GPU, FastModel (the full profile's) and FastLanguageModel compute the same model through
    different forwards: 9 bfloat16 units apart on the 8B, 0 with the same class
    (benchmarks/probe_reload_loaders.py), so 06's probe check holds only with 05's class. On a CPU
    Unsloth's two loaders are one class: the notebooks' code is all a CPU can check."""
    choice = [line for line in _code("05_lora_training.ipynb").splitlines() if line.startswith("loader = ")]
    six = _code("06_saving_and_chat.ipynb")
    reload_part = six.split("q.stored_probe(adapter_dir)")[0]
    assert len(choice) == 1 and choice[0] in reload_part.splitlines()
    assert "model, tokenizer = loader.from_pretrained(" in reload_part and "loader.for_inference(model)" in six
