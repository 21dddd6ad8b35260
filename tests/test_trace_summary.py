"""benchmarks/trace_summary.py: kernel time by kind and the GPU's idle gaps, from a Chrome trace."""

import gzip
import importlib.util
import json
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location(
    "trace_summary", Path(__file__).resolve().parent.parent / "benchmarks" / "trace_summary.py")
trace_summary = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(trace_summary)


def _op(name, ts, dur, tid=1):
    return {"ph": "X", "cat": "cpu_op", "name": name, "ts": ts, "dur": dur, "tid": tid}


def _launch(ts, correlation, cat="cuda_runtime"):
    return {"ph": "X", "cat": cat, "name": "launch", "ts": ts, "dur": 2, "tid": 1,
            "args": {"correlation": correlation}}


def _kernel(name, ts, dur, correlation, cat="kernel"):
    return {"ph": "X", "cat": cat, "name": name, "ts": ts, "dur": dur, "tid": 7, "args": {"correlation": correlation}}


def _trace():
    """A matrix product, a 200 us gap while the optimizer launches, then a Triton kernel; a flash
    kernel whose name mentions cutlass counts as attention, not as a matrix product."""
    return [
        _op("aten::mm", 0, 30), _launch(5, 1), _kernel("nvjet_sm90_tst_256x160_h_bz_NNT", 10, 100, 1),
        _op("aten::_flash_attention_forward", 40, 20), _launch(45, 2),
        _kernel("void pytorch_flash::flash_fwd_kernel<cutlass::bfloat16_t>", 110, 50, 2),
        _op("Optimizer.step", 300, 60), _op("aten::add_", 350, 8), _launch(352, 3, "cuda_driver"),
        _kernel("triton_poi_fused_add_0", 360, 10, 3),
        _kernel("Memcpy DtoD (Device -> Device)", 371, 4, 4, cat="gpu_memcpy"),  # no launch record
    ]


def test_kinds_gaps_and_the_op_that_ended_each_gap(tmp_path):
    path = tmp_path / "trace.json.gz"
    with gzip.open(path, "wt") as f:
        json.dump({"traceEvents": _trace()}, f)
    text = trace_summary.summarize(trace_summary.load_events(path), top=5, gap_us=20)
    lines = text.splitlines()
    assert lines[0] == "GPU window 0.4 ms, kernels 0.2 ms (45%), 4 launches"
    kinds = {line.split()[0]: line for line in lines if line.startswith("  ") and " ms " in line and "x  " not in line}
    assert set(kinds) == {"matmul", "attention", "inductor", "copy"}
    assert "0.1 ms  61.0%" in kinds["matmul"] and "0.1 ms  30.5%" in kinds["attention"]
    idle = lines[lines.index(next(l for l in lines if l.startswith("GPU idle"))) + 1:]
    assert lines[lines.index(next(l for l in lines if l.startswith("GPU idle")))].startswith(
        "GPU idle in gaps over 20 us: 0.2 ms")
    assert idle == ["       0.2 ms      1x  aten::add_"]  # the 200 us gap, launched from inside add_


def test_a_trace_without_gpu_events_is_refused(tmp_path):
    path = tmp_path / "cpu.json"
    path.write_text(json.dumps([_op("aten::mm", 0, 10)]))
    with pytest.raises(SystemExit, match="no GPU events"):
        trace_summary.summarize(trace_summary.load_events(path))
