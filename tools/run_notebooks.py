"""Execute notebooks in order, as `make run` does, and print the wall time of each.

    python tools/run_notebooks.py notebooks/00_setup.ipynb notebooks/01_....ipynb
    python tools/run_notebooks.py --refresh notebooks/*.ipynb

Executed copies go to ``<artifacts root>/notebooks/``; the sources are never rewritten, except
with ``--refresh``, which stores back into each source the outputs of the cells marked
``# NBVAL_CHECK_OUTPUT`` (the ones nbval compares) and clears every other output.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def _artifacts_module():
    """qwen3lab/artifacts.py loaded on its own: importing the package would import Unsloth
    (about 10 s) in this parent process, which only starts kernels."""
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "qwen3lab" / "artifacts.py"
    spec = importlib.util.spec_from_file_location("qwen3lab_artifacts", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_artifacts = _artifacts_module()
atomic_write_text, stage_dir = _artifacts.atomic_write_text, _artifacts.stage_dir

CHECK = "# NBVAL_CHECK_OUTPUT"


def execute(path: Path, timeout: int) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def keep_checked_outputs(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if CHECK not in cell.source:
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--refresh", action="store_true", help="store checked outputs back into the sources")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args(argv)
    out_dir = stage_dir("notebooks")
    total = time.perf_counter()
    for path in args.notebooks:
        start = time.perf_counter()
        nb = execute(path, args.timeout)
        if args.refresh:
            atomic_write_text(path, nbformat.writes(keep_checked_outputs(nb)) + "\n")
            where = path
        else:
            where = out_dir / path.name
            atomic_write_text(where, nbformat.writes(nb) + "\n")
        print(f"{path.name:<32} {time.perf_counter() - start:6.1f} s  -> {where}", flush=True)
    print(f"{'all notebooks':<32} {time.perf_counter() - total:6.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
