"""Guards each named workaround for an upstream bug: the bug is still there (so the workaround
is still needed, and the test says when it can go), and the workaround removes it."""

import logging

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
    from pathlib import Path

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

