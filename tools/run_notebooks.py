"""Execute notebooks in order, as `make run` does, and print the wall time of each.

    python tools/run_notebooks.py notebooks/00_setup.ipynb notebooks/01_....ipynb
    python tools/run_notebooks.py --refresh notebooks/*.ipynb
    python tools/run_notebooks.py --handout notebooks/*.ipynb

Executed copies go to ``<artifacts root>/notebooks/``; the sources are never rewritten, except
with ``--refresh``, which stores back into each source the outputs of the cells marked
``# NBVAL_CHECK_OUTPUT`` (the ones nbval compares) and clears every other output. ``--handout``
also writes each executed notebook as a self-contained HTML page (figures embedded) and an
``index.html`` linking them, under ``<artifacts root>/handout/``: the series readable without
running it.
"""

from __future__ import annotations

import argparse
import html
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


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
_last: nbformat.NotebookNode | None = None  # the notebook being executed (its outputs so far)


def execute(path: Path, timeout: int) -> nbformat.NotebookNode:
    from jupyter_client import KernelManager

    global _last
    nb = _last = nbformat.read(path, as_version=4)
    # a local kernel over Unix sockets: over TCP, ipykernel 7 warns on every start that the
    # connection is unencrypted (harmless on one machine, and not something a learner can act on)
    km = KernelManager(kernel_name="python3", transport="ipc", ip=str(Path(tempfile.mkdtemp()) / "kernel"))
    try:
        NotebookClient(nb, km=km, timeout=timeout, resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=False)
    return nb


def write_handout(notebooks: list[tuple[Path, nbformat.NotebookNode]], out_dir: Path) -> Path:
    """Each executed notebook as ``.ipynb`` and self-contained ``.html``, and an ``index.html``."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter()
    links = []
    for path, nb in notebooks:
        atomic_write_text(out_dir / path.name, nbformat.writes(nb) + "\n")
        body, _ = exporter.from_notebook_node(nb)
        atomic_write_text(out_dir / f"{path.stem}.html", body)
        title = next((c.source.splitlines()[0].lstrip("# ") for c in nb.cells if c.cell_type == "markdown"), path.stem)
        links.append(f'<li><a href="{path.stem}.html">{html.escape(title)}</a> '
                     f'(<a href="{path.name}">ipynb</a>)</li>')
    index = ("<!doctype html><meta charset='utf-8'><title>qwen3lab handout</title>"
             "<h1>qwen3lab: the executed series</h1><ol>" + "".join(links) + "</ol>")
    atomic_write_text(out_dir / "index.html", index + "\n")
    return out_dir / "index.html"


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
    parser.add_argument("--handout", action="store_true", help="also write notebooks + HTML to <artifacts>/handout")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args(argv)
    out_dir = stage_dir("notebooks")
    total = time.perf_counter()
    executed = []
    for path in args.notebooks:
        start = time.perf_counter()
        try:
            nb = execute(path, args.timeout)
        except CellExecutionError:
            failed = out_dir / path.name  # where it stopped, with every output so far
            atomic_write_text(failed, nbformat.writes(nbformat.read(path, as_version=4) if _last is None else _last) + "\n")
            print(f"{path.name} failed; the executed part is in {failed}", file=sys.stderr)
            raise
        if args.refresh:
            atomic_write_text(path, nbformat.writes(keep_checked_outputs(nb)) + "\n")
            where = path
        else:
            where = out_dir / path.name
            atomic_write_text(where, nbformat.writes(nb) + "\n")
        executed.append((path, nb))
        print(f"{path.name:<32} {time.perf_counter() - start:6.1f} s  -> {where}", flush=True)
    print(f"{'all notebooks':<32} {time.perf_counter() - total:6.1f} s")
    if args.handout:
        print("handout:", write_handout(executed, stage_dir("handout")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
