"""Guards each named workaround for an upstream bug: the bug is still there (so the workaround
is still needed, and the test says when it can go), and the workaround removes it."""

import json
import logging
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from qwen3lab import workarounds


def test_the_bitsandbytes_kernels_notice_is_dropped_and_nothing_else(caplog):
    logger = logging.getLogger(workarounds.BNB_CPU_LOGGER)
    workarounds.quiet_bitsandbytes_kernels_notice()  # import qwen3lab already did; idempotent
    workarounds.quiet_bitsandbytes_kernels_notice()
    assert sum(isinstance(f, workarounds._DropMessage) for f in logger.filters) == 1
    with caplog.at_level(logging.WARNING, logger=workarounds.BNB_CPU_LOGGER):
        logger.warning("%s: %s. Please make sure you already `pip install kernels`", workarounds.BNB_KERNELS_NOTICE,
                       "No module named 'kernels'")
        logger.warning("another bitsandbytes warning")
    assert [r.getMessage() for r in caplog.records] == ["another bitsandbytes warning"]


def test_bitsandbytes_still_logs_that_notice_where_this_cpu_has_avx512_bf16():
    """When this fails, bitsandbytes changed its message or stopped logging it: the filter can go."""
    import bitsandbytes

    source = (Path(bitsandbytes.__file__).parent / "backends" / "cpu" / "ops.py").read_text()
    assert workarounds.BNB_KERNELS_NOTICE in source


def test_swanlab_logging_needs_an_active_run_that_the_workaround_starts(tmp_path, monkeypatch):
    swanlab = pytest.importorskip("swanlab")
    monkeypatch.setenv("SWANLAB_PROJECT", "my-project")  # swanlab 0.10.3 parses it as JSON and fails
    workarounds.finish_swanlab()
    with pytest.raises(RuntimeError, match="No active Run"):
        swanlab.get_run()  # transformers' SwanLabCallback.setup expects None here (the bug)
    log_dir = workarounds.start_swanlab("offline", tmp_path / "swanlog", name="test")
    try:
        assert log_dir == tmp_path / "swanlog" and swanlab.get_run() is not None
        swanlab.log({"loss": 1.0})
    finally:
        workarounds.finish_swanlab()
    assert any(log_dir.iterdir())


def test_swanlab_cloud_without_login_falls_back_to_offline(tmp_path, monkeypatch, capsys):
    pytest.importorskip("swanlab")
    monkeypatch.setenv("SWANLAB_SAVE_DIR", str(tmp_path / "no-login"))
    monkeypatch.delenv("SWANLAB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no stored login
    try:
        log_dir = workarounds.start_swanlab("cloud", tmp_path / "swanlog")
    finally:
        workarounds.finish_swanlab()
    assert log_dir == tmp_path / "swanlog"
    assert "logging offline instead" in capsys.readouterr().out


def test_only_the_qwen_bos_notice_of_the_trainer_is_dropped(caplog):
    logger = logging.getLogger(workarounds.TRAINER_UTILS_LOGGER)
    workarounds.quiet_qwen_bos_notice()
    head = "The tokenizer has new PAD/BOS/EOS tokens that differ from the model config and generation config. "
    with caplog.at_level(logging.WARNING, logger=workarounds.TRAINER_UTILS_LOGGER):
        logger.warning(head + "Updated tokens: {'bos_token_id': None}.")
        logger.warning(head + "Updated tokens: {'pad_token_id': 151654}.")
    assert [r.getMessage().rsplit(" ", 2)[-1] for r in caplog.records] == ["151654}."]


def test_transformers_still_aligns_qwens_bos_and_says_so():
    """When this fails, transformers stopped the notice (or changed it): the filter can go."""
    from types import SimpleNamespace

    from transformers import GenerationConfig
    from transformers.trainer_utils import align_special_tokens

    from qwen3lab.tiny import QWEN3_8B, load_qwen3_tokenizer

    tokenizer = load_qwen3_tokenizer()
    config = SimpleNamespace(eos_token_id=QWEN3_8B["eos_token_id"], bos_token_id=QWEN3_8B["bos_token_id"],
                             pad_token_id=QWEN3_8B["pad_token_id"])
    generation = GenerationConfig(eos_token_id=[151_645, 151_643], bos_token_id=151_643, pad_token_id=151_654)
    model = SimpleNamespace(config=config, generation_config=generation)
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger(workarounds.TRAINER_UTILS_LOGGER)
    logger.removeFilter(next(f for f in logger.filters if isinstance(f, workarounds._DropSuffix)))
    logger.addHandler(handler)
    try:
        align_special_tokens(model, tokenizer)
    finally:
        logger.removeHandler(handler)
        workarounds.quiet_qwen_bos_notice()
    assert config.bos_token_id is None
    assert [r.getMessage() for r in records][-1].endswith(workarounds.QWEN_BOS_NOTICE)


# -- Unsloth's merge, offline (06) --------------------------------------------------------------------

_MERGE_BASE_CHECK = r"""
import json, sys, types
import qwen3lab as q
q.bootstrap()
from unsloth_zoo.saving_utils import determine_base_model_source

out = {}
try:  # the bug: offline, a base that is in the cache cannot be found through its Hub id
    determine_base_model_source("unsloth/Qwen3-8B", None, "merged_16bit")
    out["hub id"] = "resolved"
except RuntimeError as err:
    out["hub id"] = str(err)
# what 06's model16 holds after Unsloth maps the 4-bit id for load_in_4bit=False; and the 4-bit id itself
for key, name in (("base", "unsloth/Qwen3-8B"), ("4-bit id", "unsloth/Qwen3-8B-unsloth-bnb-4bit")):
    model = types.SimpleNamespace(config=types.SimpleNamespace(_name_or_path=name))
    folder = q.use_cached_merge_base(model)
    out[key] = {"returned": folder, "name now": model.config._name_or_path,
                "source": list(determine_base_model_source(model.config._name_or_path, None, "merged_16bit"))}
    out[key]["again"] = q.use_cached_merge_base(model)  # a folder now: nothing more to change
try:
    q.use_cached_merge_base(types.SimpleNamespace(config=types.SimpleNamespace(_name_or_path="someone/not-cached")))
    out["missing"] = "no error"
except FileNotFoundError as err:
    out["missing"] = str(err)
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def model_hub(tmp_path_factory):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
    import rehearsal_hub as rh

    home = tmp_path_factory.mktemp("merge-base") / "hf"
    rh.build_repos(home, [rh.QUANTIZED, rh.BASE], shape="tiny", seed=3407)
    return home


def test_offline_merge_needs_the_cached_base_folder_which_the_workaround_gives(model_hub):
    """When the first assertion fails, unsloth_zoo finds a cached base offline by itself: the
    workaround and its line in 06 can go."""
    env = {**os.environ, "HF_HOME": str(model_hub), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    run = subprocess.run([sys.executable, "-c", _MERGE_BASE_CHECK], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(next(line for line in run.stdout.splitlines() if line.startswith("RESULT "))[len("RESULT "):])
    assert "could not reach the Hugging Face Hub" in out["hub id"]
    base_folder = model_hub / "hub" / "models--unsloth--Qwen3-8B" / "snapshots"
    for key in ("base", "4-bit id"):  # both end at the 16-bit base, never the NF4 repo
        assert Path(out[key]["returned"]).parent == base_folder
        assert out[key]["name now"] == out[key]["returned"]
        assert out[key]["source"][:3] == [out[key]["returned"], True, "local_unquantized"]
        assert out[key]["again"] is None
    assert "someone/not-cached" in out["missing"] and "HF_HUB_OFFLINE" in out["missing"]


def test_the_merge_base_is_left_alone_online_and_for_a_folder(tmp_path, monkeypatch):
    from huggingface_hub import constants

    for offline, name in ((False, "unsloth/Qwen3-8B"), (True, str(tmp_path))):
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)
        model = types.SimpleNamespace(config=types.SimpleNamespace(_name_or_path=name))
        assert workarounds.use_cached_merge_base(model) is None
        assert model.config._name_or_path == name
