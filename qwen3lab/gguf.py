"""GGUF export: where llama.cpp's converter is, what the files hold, and how close they are.

Notebook 08 writes the upstream calls itself: llama.cpp's ``convert_hf_to_gguf.py`` (the merged
16-bit model to an f16 GGUF), ``llama_cpp.llama_model_quantize`` (q8_0, q4_k_m), ``llama_cpp.Llama``
(loading and chatting) and ``AutoModelForCausalLM.from_pretrained(..., gguf_file=...)``. This
module holds the rest:

- ``find_converter``: the converter comes from the source distribution of the pinned
  llama-cpp-python (it vendors llama.cpp, ``convert_hf_to_gguf.py``, its ``conversion`` package and
  ``gguf-py``), unpacked by ``make setup`` into ``.venv/src/llama.cpp-<version>``. Nothing is
  downloaded at run time, and the converter is the same llama.cpp as the library that quantizes
  and runs the files;
- ``gguf_metadata``, ``gguf_tensors`` and ``gguf_table``: each file's key-value fields, its tensors,
  their types, sizes and bits per weight (read from the file's header, with the ``gguf`` package's
  type tables), so a quantization type is a measured fact;
- ``capture_llama_log``: llama.cpp's log of one call, kept instead of printed, so a cell can show
  the lines that matter (which tensors fell back to another type);
- ``gguf_probe_logits``, ``logit_comparison`` and ``gguf_tolerance``: the probe of notebook 06
  run through llama.cpp, compared with the merged model's, within a tolerance that follows from the
  number types involved;
- ``patch_gguf_qwen3_head_dim``: the workaround for transformers' GGUF reader forgetting Qwen3's
  head size.

Introduced in 08_export.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import math
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .artifacts import project_root
from .export import RELOAD_TOLERANCE, max_logit_diff, probe_prompts, ulp

if TYPE_CHECKING:
    import pandas as pd
    import torch

#: A folder holding ``convert_hf_to_gguf.py`` (with ``conversion/`` and ``gguf-py/`` beside it),
#: for machines where ``make setup`` did not unpack it into the environment.
CONVERTER_ENV = "QWEN3LAB_LLAMA_CPP"
CONVERTER_SCRIPT = "convert_hf_to_gguf.py"
LLAMA_CPP_DIST = "llama_cpp_python"

#: The torch name of each 16-bit weight type llama.cpp computes with (for ``export.ulp``).
_FLOAT_TYPES = {"F16": "float16"}
#: llama.cpp rounds the activations to a matrix product's vector type before the product: float16
#: for float16 weights on the CPU. Each logit passes through every layer's products, so the budget
#: is this many float16 units in the last place of the largest |logit|. Measured on the tiny
#: profile (2 layers, 2 CPU cores): 0.36 to 0.65 of one unit; a 36-layer model rounds 18 times as often,
#: and a random Qwen3 of the 8B's 36 layers and vocabulary at width 128 measured 0.62 units (docs/gpu.md).
F16_ULPS = 16


class ConverterNotFound(FileNotFoundError):
    """llama.cpp's ``convert_hf_to_gguf.py`` is not where ``make setup`` puts it."""


# -- the converter ----------------------------------------------------------------------------


def llama_cpp_version() -> str:
    """The installed llama-cpp-python's version (the converter must come from the same one).

    Introduced in 08_export."""
    try:
        return importlib.metadata.version(LLAMA_CPP_DIST)
    except importlib.metadata.PackageNotFoundError:
        raise ModuleNotFoundError("llama-cpp-python is not installed: run `make setup` (it builds it from "
                                  "source once, about 8 minutes on 2 cores)") from None


def converter_dirs(version: str) -> list[Path]:
    """Where ``find_converter`` looks, in order: ``$QWEN3LAB_LLAMA_CPP``, then ``src/llama.cpp-<version>``
    under the running environment and under the checkout's ``.venv``. Introduced in 08_export."""
    dirs = [Path(os.environ[CONVERTER_ENV]).expanduser()] if os.environ.get(CONVERTER_ENV) else []
    prefixes = [Path(sys.prefix)]
    root = project_root()
    if root is not None:
        prefixes.append(root / ".venv")
    for prefix in prefixes:
        candidate = prefix / "src" / f"llama.cpp-{version}"
        if candidate not in dirs:
            dirs.append(candidate)
    return dirs


def find_converter(version: str | None = None) -> Path:
    """The path of llama.cpp's ``convert_hf_to_gguf.py`` from llama-cpp-python ``version`` (default:
    the installed one), or a ``ConverterNotFound`` that says how to get it. Introduced in 08_export."""
    version = version or llama_cpp_version()
    dirs = converter_dirs(version)
    for folder in dirs:
        if (folder / CONVERTER_SCRIPT).is_file() and (folder / "conversion").is_dir():
            return folder / CONVERTER_SCRIPT
    looked = ", ".join(str(d) for d in dirs)
    raise ConverterNotFound(
        f"llama.cpp's {CONVERTER_SCRIPT} for llama-cpp-python {version} is not in {looked}. `make setup` unpacks it "
        f"from the package's source distribution; elsewhere: `pip download --no-deps --no-binary "
        f"llama-cpp-python llama-cpp-python=={version}`, unpack vendor/llama.cpp/{{{CONVERTER_SCRIPT},conversion,gguf-py}} into a "
        f"folder and set {CONVERTER_ENV} to it")


# -- what the files hold ------------------------------------------------------------------------


#: struct formats of GGUF's scalar value types (GGUFValueType's numbers, little-endian files).
_SCALAR_FORMATS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q",
                   12: "<d"}
_STRING, _ARRAY = 8, 9


def _read_header(path: str | Path) -> tuple[dict[str, Any], list[tuple[str, int, tuple[int, ...]]]]:
    """The key-value fields (an array as its length) and the tensor infos (name, ggml type, shape) of
    a GGUF file, read from its header only.

    Why not ``gguf.GGUFReader``: it makes a numpy view of every item of every array, and the Qwen3
    vocabulary and merges are about 300,000 strings: 9 to 21 s per file on this project's 2 busy
    cores, against 0.1 s here."""
    import mmap
    import struct

    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        if m[:4] != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file (it does not start with b'GGUF')")
        version, n_tensors, n_fields = struct.unpack_from("<IQQ", m, 4)
        if version < 2:
            raise ValueError(f"{path}: GGUF version {version} is not supported (2 and later are)")
        pos = 24

        def string(at: int) -> tuple[str, int]:
            (n,) = struct.unpack_from("<Q", m, at)
            return m[at + 8:at + 8 + n].decode("utf-8"), at + 8 + n

        def value(kind: int, at: int) -> tuple[Any, int]:
            if kind == _STRING:
                return string(at)
            if kind == _ARRAY:
                item, n = struct.unpack_from("<IQ", m, at)
                at += 12
                if item == _STRING:
                    for _ in range(n):
                        at += 8 + struct.unpack_from("<Q", m, at)[0]
                else:
                    at += n * struct.calcsize(_SCALAR_FORMATS[item])
                return n, at
            fmt = _SCALAR_FORMATS[kind]
            return struct.unpack_from(fmt, m, at)[0], at + struct.calcsize(fmt)

        fields: dict[str, Any] = {}
        for _ in range(n_fields):
            key, pos = string(pos)
            (kind,) = struct.unpack_from("<I", m, pos)
            fields[key], pos = value(kind, pos + 4)
        tensors = []
        for _ in range(n_tensors):
            name, pos = string(pos)
            (n_dims,) = struct.unpack_from("<I", m, pos)
            shape = struct.unpack_from(f"<{n_dims}Q", m, pos + 4)
            (kind,) = struct.unpack_from("<I", m, pos + 4 + 8 * n_dims)
            pos += 4 + 8 * n_dims + 12  # the type, then the data offset
            tensors.append((name, kind, tuple(int(n) for n in shape)))
    return fields, tensors


def gguf_metadata(path: str | Path) -> dict[str, Any]:
    """The key-value fields of a GGUF file: numbers and strings as they are, an array as its number of
    items (the vocabulary, the merges and the token types are arrays of 151,936 or so). Introduced in 08_export."""
    return _read_header(path)[0]


def gguf_tensors(path: str | Path) -> "pd.DataFrame":
    """Every tensor of a GGUF file: name, type (``F16``, ``Q8_0``, ``Q4_K``...), shape as llama.cpp
    writes it (the row length first), parameters, bytes and bits per weight. Introduced in 08_export."""
    import pandas as pd
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    rows = []
    for name, kind, shape in _read_header(path)[1]:
        qtype = GGMLQuantizationType(kind)
        block, block_bytes = GGML_QUANT_SIZES[qtype]
        parameters = math.prod(shape)
        rows.append({"tensor": name, "type": qtype.name, "shape": shape, "parameters": parameters,
                     "bytes": parameters // block * block_bytes})
    table = pd.DataFrame(rows, columns=["tensor", "type", "shape", "parameters", "bytes"]).set_index("tensor")
    table["bits per weight"] = 8 * table["bytes"] / table["parameters"]
    return table


def type_counts(tensors: "pd.DataFrame") -> str:
    """``"Q8_0 x14, F32 x9"``: how many tensors of each type, most common first. Introduced in 08_export."""
    return ", ".join(f"{name} x{n}" for name, n in Counter(tensors["type"]).most_common())


def gguf_table(files: dict[str, str | Path]) -> "pd.DataFrame":
    """One row per GGUF file: its size, parameters, the bytes of its tensors, bits per weight and
    the tensor types it holds.

    Bits per weight is 8 x tensor bytes / parameters, over all tensors (the norms stay in F32), as
    llama.cpp prints it when it loads a file ("BPW"); the file is larger by its metadata (the
    vocabulary, the merges, the chat template). Introduced in 08_export."""
    import pandas as pd

    rows = {}
    for label, path in files.items():
        tensors = gguf_tensors(path)
        size = Path(path).stat().st_size
        rows[label] = {"file": Path(path).name, "MiB": size / 2**20, "parameters": int(tensors["parameters"].sum()),
                       "tensor MiB": tensors["bytes"].sum() / 2**20,
                       "bits per weight": 8 * tensors["bytes"].sum() / tensors["parameters"].sum(),
                       "metadata MiB": (size - tensors["bytes"].sum()) / 2**20, "tensor types": type_counts(tensors)}
    return pd.DataFrame.from_dict(rows, orient="index")


@contextlib.contextmanager
def capture_llama_log() -> Iterator[list[str]]:
    """Keep llama.cpp's log lines of the calls inside the block instead of printing them.

    llama-cpp-python routes llama.cpp's log to ``sys.stderr`` through its logger
    ``"llama-cpp-python"``; inside the block that logger passes everything down to INFO and
    ``sys.stderr`` is a buffer. The yielded list is filled with the lines when the block ends.
    Introduced in 08_export."""
    import logging

    import llama_cpp._logger  # noqa: F401  (installs the log callback)

    logger = logging.getLogger("llama-cpp-python")
    lines: list[str] = []
    level, buffer = logger.level, io.StringIO()
    logger.setLevel(logging.INFO)
    try:
        with contextlib.redirect_stderr(buffer):
            yield lines
    finally:
        logger.setLevel(level)
        lines.extend(buffer.getvalue().splitlines())


def patch_gguf_qwen3_head_dim() -> bool:
    """Teach transformers' GGUF reader Qwen3's head size; True if it needed it.

    Workaround: transformers 5.17's ``GGUF_CONFIG_MAPPING["qwen3"]`` has no
    ``"attention.key_length": "head_dim"`` (its ``"qwen3_moe"`` entry has), so
    ``from_pretrained(..., gguf_file=...)`` builds a Qwen3 with ``Qwen3Config``'s default head size,
    128. Every released Qwen3 has 128, which is why it goes unnoticed; the tiny model's heads are 16
    wide, and its first forward pass fails with ``RuntimeError: shape '[1, 20, -1, 128]' is invalid
    for input of size 1280``. This adds the entry to the mapping (the one
    ``load_gguf_checkpoint`` reads), in this process only. ``tests/test_gguf.py`` says when it can go.
    Introduced in 08_export."""
    from transformers.integrations.ggml import GGUF_CONFIG_MAPPING

    mapping = GGUF_CONFIG_MAPPING["qwen3"]
    if mapping.get("attention.key_length") == "head_dim":
        return False
    mapping["attention.key_length"] = "head_dim"
    return True


# -- logits -----------------------------------------------------------------------------------


def gguf_probe_logits(llm, tokenizer) -> "torch.Tensor":
    """llama.cpp's float32 logits at the last position of each probe prompt (``probe_prompts``),
    shape (2, vocab): ``probe_logits`` of notebook 06, for a ``llama_cpp.Llama``.

    The prompts are tokenized by ``tokenizer`` (the same ids as the transformers side; that
    llama.cpp tokenizes them alike is checked apart), evaluated from an empty cache each. ``llm``
    must keep every position's logits (``Llama(..., logits_all=True)``). Introduced in 08_export."""
    import numpy as np
    import torch

    if not getattr(llm, "_logits_all", True):
        raise ValueError("create the Llama with logits_all=True: without it llama-cpp-python keeps no logits")
    rows = []
    for prompt in probe_prompts(tokenizer):
        ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        llm.reset()
        llm.eval(ids)
        rows.append(torch.from_numpy(np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)))
    return torch.stack(rows)


def gguf_tolerance(reference: "torch.Tensor", weight_type: str = "F16") -> float:
    """The allowed max |difference| between llama.cpp's logits for a GGUF file whose matrices are
    ``weight_type`` and the merged model's computed in float32 from the same (16-bit) weights.

    ``F16``: the weights are the merged bfloat16 values, exactly (float16 holds every bfloat16 value
    of a trained model's range); what differs is llama.cpp rounding each product's activations to
    float16 (11 significant bits) on the CPU, so ``F16_ULPS`` float16 units in the last place of the
    largest |logit|. ``F32``: float32 arithmetic on both sides, ``RELOAD_TOLERANCE``. Quantized
    types have no tolerance here: their differences are reported, not bounded. Introduced in 08_export."""
    largest = float(reference.abs().max())
    if weight_type == "F32" or largest == 0.0:
        return RELOAD_TOLERANCE
    if weight_type not in _FLOAT_TYPES:
        raise ValueError(f"no tolerance for {weight_type!r}: quantized files are compared, not bounded "
                         f"(float types: {sorted(_FLOAT_TYPES)})")
    return max(RELOAD_TOLERANCE, F16_ULPS * ulp(largest, _FLOAT_TYPES[weight_type]))


def logit_comparison(reference: "torch.Tensor", **candidates: "torch.Tensor") -> "pd.DataFrame":
    """One row per candidate: max and mean |logit difference| from ``reference``, the max relative to
    the largest |logit| of the reference, and on how many prompts the top token is the same.
    Introduced in 08_export."""
    import pandas as pd

    largest = float(reference.abs().max())
    rows = {}
    for name, logits in candidates.items():
        diff = max_logit_diff(logits, reference)
        same = int((logits.argmax(dim=-1) == reference.argmax(dim=-1)).sum())
        rows[name] = {"max |diff|": diff, "mean |diff|": float((logits.float() - reference.float()).abs().mean()),
                      "max |diff| / max |logit|": diff / largest if largest else math.nan,
                      "same top-1": f"{same}/{len(reference)}"}
    return pd.DataFrame.from_dict(rows, orient="index")


def suppressed_logits(model_dir: str | Path):
    """The model's ``generation_config.suppress_tokens`` as a llama-cpp-python ``LogitsProcessorList``
    (``logits_processor=`` of ``create_completion`` / ``create_chat_completion``), or None when it
    suppresses nothing.

    transformers' ``generate`` applies ``suppress_tokens`` by itself; llama.cpp never reads
    ``generation_config.json``, so the tiny model's screen (02_chat_templates: only benign
    characters on a projector) would be lost in the GGUF without this. The full profile's models
    suppress nothing: None, and generation is llama.cpp's own. Introduced in 08_export."""
    import numpy as np

    from .tiny import suppressed_token_ids

    ids = suppressed_token_ids(model_dir)
    if not ids:
        return None
    from llama_cpp import LogitsProcessorList

    banned = np.asarray(ids, dtype=np.int64)

    def suppress(input_ids, scores):
        scores[banned[banned < scores.shape[-1]]] = -np.inf
        return scores

    return LogitsProcessorList([suppress])


__all__ = ["CONVERTER_ENV", "ConverterNotFound", "F16_ULPS", "capture_llama_log", "converter_dirs", "suppressed_logits",
           "find_converter", "gguf_metadata", "gguf_probe_logits", "gguf_table", "gguf_tensors", "gguf_tolerance",
           "llama_cpp_version", "logit_comparison", "patch_gguf_qwen3_head_dim", "type_counts"]
