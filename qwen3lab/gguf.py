"""GGUF export (08): finding llama.cpp's converter, reading what the files hold, and comparing their
logits with the merged model's.

Notebook 08 writes the upstream calls itself (``convert_hf_to_gguf.py``, ``llama_model_quantize``,
``llama_cpp.Llama``, ``from_pretrained(..., gguf_file=...)``). The converter comes from the pinned
llama-cpp-python's source distribution, unpacked by ``make setup``, so it is the same llama.cpp as
the library that quantizes and runs the files. Introduced in 08_export.
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
#: llama.cpp rounds a product's activations to float16 for float16 weights on the CPU, in every
#: layer: the budget is this many float16 units in the last place of the largest |logit|.
F16_ULPS = 16


class ConverterNotFound(FileNotFoundError):
    """llama.cpp's ``convert_hf_to_gguf.py`` is not where ``make setup`` puts it."""


def llama_cpp_version() -> str:
    """The installed llama-cpp-python's version (the converter must come from the same one).

    Introduced in 08_export."""
    try:
        return importlib.metadata.version("llama_cpp_python")
    except importlib.metadata.PackageNotFoundError:
        raise ModuleNotFoundError("llama-cpp-python is not installed: run `make setup` (it builds it from "
                                  "source once)") from None


def find_converter(version: str | None = None) -> Path:
    """The path of llama.cpp's ``convert_hf_to_gguf.py`` from llama-cpp-python ``version`` (default:
    the installed one), looked for in ``$QWEN3LAB_LLAMA_CPP``, then ``src/llama.cpp-<version>`` under
    the running environment and the checkout's ``.venv``; else a ``ConverterNotFound`` that says how
    to get it. Introduced in 08_export."""
    version = version or llama_cpp_version()
    dirs = [Path(os.environ[CONVERTER_ENV]).expanduser()] if os.environ.get(CONVERTER_ENV) else []
    root = project_root()
    for prefix in [Path(sys.prefix)] + ([root / ".venv"] if root is not None else []):
        candidate = prefix / "src" / f"llama.cpp-{version}"
        if candidate not in dirs:
            dirs.append(candidate)
    for folder in dirs:
        if (folder / CONVERTER_SCRIPT).is_file() and (folder / "conversion").is_dir():
            return folder / CONVERTER_SCRIPT
    looked = ", ".join(str(d) for d in dirs)
    raise ConverterNotFound(
        f"llama.cpp's {CONVERTER_SCRIPT} for llama-cpp-python {version} is not in {looked}. `make setup` "
        f"unpacks it from the package's source distribution; elsewhere: `pip download --no-deps --no-binary "
        f"llama-cpp-python llama-cpp-python=={version}`, unpack "
        f"vendor/llama.cpp/{{{CONVERTER_SCRIPT},conversion,gguf-py}} into a folder and set {CONVERTER_ENV} to it")


#: struct formats of GGUF's scalar value types (GGUFValueType's numbers, little-endian files).
_SCALAR_FORMATS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q",
                   12: "<d"}
_STRING, _ARRAY = 8, 9


def _read_header(path: str | Path) -> tuple[dict[str, Any], list[tuple[str, int, tuple[int, ...]]]]:
    """The key-value fields (an array as its length) and the tensor infos (name, ggml type, shape) of
    a GGUF file, from its header only. Not ``gguf.GGUFReader``: it makes a numpy view of every item
    of every array, which for Qwen3's vocabulary and merges is slow."""
    import struct

    with open(path, "rb") as f:
        def read(fmt: str) -> tuple:
            return struct.unpack(fmt, f.read(struct.calcsize(fmt)))

        def string() -> str:
            return f.read(read("<Q")[0]).decode("utf-8")

        def value(kind: int) -> Any:
            if kind == _STRING:
                return string()
            if kind != _ARRAY:
                return read(_SCALAR_FORMATS[kind])[0]
            item, n = read("<IQ")
            if item == _STRING:
                for _ in range(n):
                    f.seek(read("<Q")[0], os.SEEK_CUR)
            else:
                f.seek(n * struct.calcsize(_SCALAR_FORMATS[item]), os.SEEK_CUR)
            return n

        if f.read(4) != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file (it does not start with b'GGUF')")
        version, n_tensors, n_fields = read("<IQQ")
        if version < 2:
            raise ValueError(f"{path}: GGUF version {version} is not supported (2 and later are)")
        fields = {}
        for _ in range(n_fields):
            key = string()
            fields[key] = value(read("<I")[0])
        tensors = []
        for _ in range(n_tensors):
            name = string()
            shape = read(f"<{read('<I')[0]}Q")
            kind, _offset = read("<IQ")
            tensors.append((name, kind, tuple(int(n) for n in shape)))
    return fields, tensors


def gguf_metadata(path: str | Path) -> dict[str, Any]:
    """The key-value fields of a GGUF file: numbers and strings as they are, an array as its number
    of items. Introduced in 08_export."""
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


def gguf_table(files: dict[str, str | Path]) -> "pd.DataFrame":
    """One row per GGUF file: its size, parameters, tensor bytes, bits per weight (over all tensors,
    as llama.cpp's "BPW") and the tensor types it holds (``"Q8_0 x14, F32 x9"``, most common first).
    Introduced in 08_export."""
    import pandas as pd

    rows = {}
    for label, path in files.items():
        tensors = gguf_tensors(path)
        size = Path(path).stat().st_size
        types = ", ".join(f"{name} x{n}" for name, n in Counter(tensors["type"]).most_common())
        rows[label] = {"file": Path(path).name, "MiB": size / 2**20, "parameters": int(tensors["parameters"].sum()),
                       "tensor MiB": tensors["bytes"].sum() / 2**20,
                       "bits per weight": 8 * tensors["bytes"].sum() / tensors["parameters"].sum(),
                       "metadata MiB": (size - tensors["bytes"].sum()) / 2**20, "tensor types": types}
    return pd.DataFrame.from_dict(rows, orient="index")


@contextlib.contextmanager
def capture_llama_log() -> Iterator[list[str]]:
    """Keep llama.cpp's log lines (down to INFO) of the calls inside the block instead of printing
    them; the yielded list is filled when the block ends. Introduced in 08_export."""
    import logging

    import llama_cpp._logger  # noqa: F401  (installs the log callback, which writes to sys.stderr)

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


def gguf_probe_logits(llm, tokenizer) -> "torch.Tensor":
    """llama.cpp's float32 logits at the last position of each probe prompt, shape (2, vocab): notebook
    06's ``probe_logits`` for a ``llama_cpp.Llama`` made with ``logits_all=True``. The prompts are
    tokenized by ``tokenizer``, each evaluated from an empty cache. Introduced in 08_export."""
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
    """The allowed max |difference| between llama.cpp's logits for a GGUF whose matrices are
    ``weight_type`` and the merged model's in float32: ``F16_ULPS`` float16 units in the last place
    of the largest |logit| for ``F16`` (float16 holds the merged bfloat16 weights exactly),
    ``RELOAD_TOLERANCE`` for ``F32``. Quantized types are compared, not bounded. Introduced in 08_export."""
    largest = float(reference.abs().max())
    if weight_type == "F32" or largest == 0.0:
        return RELOAD_TOLERANCE
    if weight_type != "F16":
        raise ValueError(f"no tolerance for {weight_type!r}: quantized files are compared, not bounded "
                         "(float types: ['F16'])")
    return max(RELOAD_TOLERANCE, F16_ULPS * ulp(largest, "float16"))


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
    suppresses nothing (the full profile).

    llama.cpp never reads ``generation_config.json``, so without this the tiny model's screen
    (02_chat_templates) would be lost in the GGUF. Introduced in 08_export."""
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


__all__ = ["CONVERTER_ENV", "ConverterNotFound", "F16_ULPS", "capture_llama_log", "suppressed_logits",
           "find_converter", "gguf_metadata", "gguf_probe_logits", "gguf_table", "gguf_tensors", "gguf_tolerance",
           "llama_cpp_version", "logit_comparison"]
