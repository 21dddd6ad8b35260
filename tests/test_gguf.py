"""Guards 08_export's helpers: the converter is found where `make setup` unpacks it (and a missing
one says how to get it), from the same llama-cpp-python as the pins; the header reader agrees with
the gguf package's own reader on fields, tensor types, shapes and bytes; the f16 tolerance follows
float16's unit in the last place; llama.cpp's log is captured, not printed; and transformers still
needs the Qwen3 head-size workaround (when it does not, this says to remove it)."""

import ast
import importlib.util
import logging
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from qwen3lab.export import RELOAD_TOLERANCE
from qwen3lab.gguf import (CONVERTER_ENV, F16_ULPS, ConverterNotFound, capture_llama_log, find_converter,
                           gguf_metadata, gguf_probe_logits, gguf_table, gguf_tensors, gguf_tolerance,
                           llama_cpp_version, logit_comparison)
from qwen3lab.workarounds import patch_gguf_qwen3_head_dim

ROOT = Path(__file__).resolve().parent.parent


def _converter_folder(path: Path) -> Path:
    (path / "conversion").mkdir(parents=True)
    (path / "convert_hf_to_gguf.py").write_text("# stand-in\n")
    return path


def test_the_converter_of_make_setup_is_found_and_matches_the_pins():
    version = llama_cpp_version()
    converter = find_converter()
    assert converter.parent.name == f"llama.cpp-{version}"
    assert (converter.parent / "gguf-py" / "gguf" / "gguf_writer.py").is_file()  # its own gguf-py beside it
    pins = (ROOT / "constraints.txt").read_text()
    assert f"llama_cpp_python=={version}\n" in pins
    extra = re.search(r"^gguf = \[(.*?)^\]", (ROOT / "pyproject.toml").read_text(), re.M | re.S).group(1)
    for pin in re.findall(r'"([^"]+==[^"]+)"', extra):
        name, exact = pin.split("==")
        name = name.split("[")[0]  # llama-cpp-python[server]: the extra is not part of the pin
        assert f"{name.replace('-', '_')}=={exact}\n" in pins.replace("-", "_"), pin


def test_the_environment_variable_comes_first_and_a_missing_converter_says_what_to_do(tmp_path, monkeypatch):
    folder = _converter_folder(tmp_path / "elsewhere")
    monkeypatch.setenv(CONVERTER_ENV, str(folder))
    assert find_converter("0.0.1") == folder / "convert_hf_to_gguf.py"
    monkeypatch.setenv(CONVERTER_ENV, str(tmp_path / "nothing-here"))
    with pytest.raises(ConverterNotFound, match=r"make setup.*QWEN3LAB_LLAMA_CPP") as err:
        find_converter("0.0.1")
    assert "llama-cpp-python==0.0.1" in str(err.value)


@pytest.fixture(scope="module")
def small_gguf(tmp_path_factory):
    """A GGUF written by the gguf package: scalar, string and array fields, and F32, F16, Q8_0 tensors."""
    import gguf

    path = tmp_path_factory.mktemp("gguf") / "small.gguf"
    writer = gguf.GGUFWriter(str(path), "qwen3")
    writer.add_block_count(2)
    writer.add_context_length(40960)
    writer.add_rope_freq_base(1e6)
    writer.add_bool("tokenizer.ggml.add_bos_token", False)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list([f"tok{i}" for i in range(1000)])
    writer.add_token_types([1] * 1000)
    writer.add_chat_template("{{ messages }}")
    rng = np.random.default_rng(0)
    writer.add_tensor("output_norm.weight", rng.standard_normal(64).astype(np.float32))
    writer.add_tensor("blk.0.attn_q.weight", rng.standard_normal((16, 64)).astype(np.float16))
    q8 = gguf.quants.quantize(rng.standard_normal((8, 64)).astype(np.float32), gguf.GGMLQuantizationType.Q8_0)
    writer.add_tensor("token_embd.weight", q8, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_the_header_reader_agrees_with_gguf_reader(small_gguf):
    from gguf import GGUFReader, GGUFValueType

    reader = GGUFReader(str(small_gguf))
    expected = {name: len(f.data) if f.types[0] == GGUFValueType.ARRAY else f.contents()
                for name, f in reader.fields.items() if not name.startswith("GGUF.")}
    assert gguf_metadata(small_gguf) == expected
    assert gguf_metadata(small_gguf)["tokenizer.ggml.tokens"] == 1000  # an array is its length
    tensors = gguf_tensors(small_gguf)
    for t in reader.tensors:
        row = tensors.loc[t.name]
        assert (row["type"], row["shape"], row["bytes"]) == (t.tensor_type.name, tuple(int(n) for n in t.shape), t.n_bytes)
    assert tensors["bits per weight"].to_dict() == {"output_norm.weight": 32.0, "blk.0.attn_q.weight": 16.0,
                                                    "token_embd.weight": 8.5}


def test_the_table_counts_types_and_bits(small_gguf, tmp_path):
    not_gguf = tmp_path / "not.gguf"
    not_gguf.write_bytes(b"PK\x03\x04 a zip")
    with pytest.raises(ValueError, match="not a GGUF file"):
        gguf_tensors(not_gguf)
    row = gguf_table({"small": small_gguf}).loc["small"]
    assert row["parameters"] == 64 + 16 * 64 + 8 * 64
    assert row["tensor types"] == "F32 x1, F16 x1, Q8_0 x1"
    assert row["bits per weight"] == pytest.approx(8 * (64 * 4 + 16 * 64 * 2 + 8 * 2 * 34) / row["parameters"])
    assert row["MiB"] > row["tensor MiB"] and row["metadata MiB"] > 0


def test_the_f16_tolerance_is_float16_units_in_the_last_place():
    reference = torch.tensor([[0.7, -0.1]])  # largest |logit| in [0.5, 1): float16's unit there is 2**-11
    assert gguf_tolerance(reference, "F16") == F16_ULPS * 2.0 ** -11
    assert gguf_tolerance(reference * 40, "F16") == F16_ULPS * 2.0 ** -6  # 28 is in [16, 32)
    assert gguf_tolerance(reference, "F32") == RELOAD_TOLERANCE
    assert gguf_tolerance(torch.zeros(1, 2), "F16") == RELOAD_TOLERANCE
    with pytest.raises(ValueError, match="quantized files are compared"):
        gguf_tolerance(reference, "Q8_0")


def test_the_comparison_reports_differences_and_top_tokens():
    reference = torch.tensor([[1.0, 2.0, 0.0], [0.0, 0.0, -4.0]])
    near = reference + torch.tensor([[0.0, 0.01, 0.0], [0.0, 0.0, 0.02]])
    swapped = torch.tensor([[2.0, 1.0, 0.0], [0.0, 0.0, -4.0]])
    table = logit_comparison(reference, near=near, swapped=swapped)
    assert table.loc["near", "max |diff|"] == pytest.approx(0.02)
    assert table.loc["near", "max |diff| / max |logit|"] == pytest.approx(0.005)
    assert table.loc["near", "same top-1"] == "2/2" and table.loc["swapped", "same top-1"] == "1/2"


class _FakeLlama:
    """What gguf_probe_logits uses of llama_cpp.Llama: reset, eval, scores, n_tokens."""

    def __init__(self, logits_all=True, vocab=5):
        self._logits_all, self.vocab, self.n_tokens, self.seen = logits_all, vocab, 0, []
        self.scores = np.zeros((64, vocab), dtype=np.float32)

    def reset(self):
        self.n_tokens = 0

    def eval(self, ids):
        self.seen.append(list(ids))
        for i, token in enumerate(ids):
            self.scores[self.n_tokens + i] = token % 7
        self.n_tokens += len(ids)


def test_probe_logits_through_llama_take_the_last_position_of_each_prompt():
    from qwen3lab.tiny import load_qwen3_tokenizer

    tokenizer = load_qwen3_tokenizer()
    llm = _FakeLlama()
    logits = gguf_probe_logits(llm, tokenizer)
    assert logits.shape == (2, 5) and logits.dtype == torch.float32
    assert [row[-1] % 7 for row in llm.seen] == logits[:, 0].tolist()  # the last token's row, each from empty
    with pytest.raises(ValueError, match="logits_all=True"):
        gguf_probe_logits(_FakeLlama(logits_all=False), tokenizer)


def test_llama_log_is_captured_and_the_level_restored(capsys):
    from llama_cpp import _logger

    logger = logging.getLogger("llama-cpp-python")
    before = logger.level
    with capture_llama_log() as lines:
        _logger.llama_log_callback(2, b"warning: a tensor fell back\n", None)
        _logger.llama_log_callback(1, b"info line\n", None)
    assert lines == ["warning: a tensor fell back", "info line"]
    assert logger.level == before and capsys.readouterr().err == ""


def test_transformers_still_lacks_qwen3_head_dim_in_its_gguf_mapping(monkeypatch):
    """When the first assert fails, transformers maps the key itself: remove patch_gguf_qwen3_head_dim
    and its call in 08_export."""
    from transformers.integrations import ggml

    source = Path(importlib.util.find_spec("transformers.integrations.ggml").origin).read_text()
    shipped = next(ast.literal_eval(node.value) for node in ast.walk(ast.parse(source))
                   if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "GGUF_CONFIG_MAPPING")
    assert "attention.key_length" not in shipped["qwen3"] and shipped["qwen3_moe"]["attention.key_length"] == "head_dim"
    monkeypatch.setitem(ggml.GGUF_CONFIG_MAPPING, "qwen3", dict(shipped["qwen3"]))
    assert patch_gguf_qwen3_head_dim() is True
    assert ggml.GGUF_CONFIG_MAPPING["qwen3"]["attention.key_length"] == "head_dim"
    assert patch_gguf_qwen3_head_dim() is False  # once is enough
