"""Execute the series headless: ``python -m qwen3lab run``, and ``make run`` / ``make handout`` /
``make refresh-outputs`` through ``tools/run_notebooks.py``.

Each notebook runs in a fresh kernel started in its folder, in order, as a learner runs it. The executed
copies go to ``<artifacts root>/notebooks/`` with ``summary.md`` and ``summary.json`` (per notebook: time,
result, cells run, peak GPU and RAM, slowest cells, what its ``# NBVAL_CHECK_OUTPUT`` cells printed) and a
``<notebook>.cells.log`` written as its cells run. The first failure stops the run (exit code 1);
its copy holds every output up to the failing cell.
``--jobs N`` runs notebooks side by side where none needs another (``prerequisites``).

This process only starts kernels: it imports neither torch nor Unsloth and never calls ``setup``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import html
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from . import artifacts, config
from .artifacts import atomic_write_text, stage_dir
from .config import ConfigError

# nbformat, nbclient and tqdm are imported where they are used: `--help` and a refused config file
# need not wait for them.
CHECK = "# NBVAL_CHECK_OUTPUT"
#: The tag of a cell that never runs headless (nbclient's own ``skip_cells_with_tag``).
SKIP_TAG = "skip-execution"


@dataclass
class Outcome:
    """What one notebook did, as the summary reports it."""

    notebook: str
    status: str = "not run"  # passed, failed or not run
    seconds: float = 0.0
    cells_run: int = 0
    code_cells: int = 0
    assert_lines: int = 0
    checked: list[str] = field(default_factory=list)
    failed_cell: int | None = None  # 1-based, counting every cell as JupyterLab lists them
    failed_source: str | None = None  # the failing cell's first line
    error: str | None = None
    written: str | None = None
    gpu_peak_mib: int | None = None  # torch.cuda.max_memory_reserved() of its kernel, on a GPU
    ram_peak_mib: int | None = None  # its kernel's peak resident memory (ru_maxrss)
    slowest: list[dict] = field(default_factory=list)  # {"cell", "seconds", "source"}


# -- executing ------------------------------------------------------------------------------------

def runnable(nb, skip: tuple[str, ...] = (SKIP_TAG,)) -> list[int]:
    """The indexes of the cells that run, in order: code cells with a source and none of the tags
    ``skip`` (the data-parallel run of 05 adds ``skip-ddp``)."""
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()
            and not set(skip) & set(c.metadata.get("tags", []))]


#: Run in the kernel after the notebook's last cell, then removed: the peak GPU memory PyTorch
#: reserved there (-1 without torch or a GPU) and the peak RSS of the kernel or its largest child
#: (08's converter). Read in the kernel, they are the notebook's own also beside other notebooks.
PEAKS = "qwen3lab-peaks"
EPILOGUE = ("import resource as _qwen3lab_resource, sys as _qwen3lab_sys\n"
            "_qwen3lab_torch = _qwen3lab_sys.modules.get('torch')\n"
            "try:\n"
            "    _qwen3lab_gpu = _qwen3lab_torch.cuda.max_memory_reserved() if _qwen3lab_torch is not None "
            "and _qwen3lab_torch.cuda.is_available() else -1\n"
            "except Exception:\n"
            "    _qwen3lab_gpu = -1\n"
            f"print('{PEAKS}', _qwen3lab_gpu, max(_qwen3lab_resource.getrusage(w).ru_maxrss for w in "
            "(_qwen3lab_resource.RUSAGE_SELF, _qwen3lab_resource.RUSAGE_CHILDREN)))")


def _pop_epilogue(nb) -> tuple[int | None, int | None]:
    """Remove the epilogue cell; the peaks it printed, in MiB: GPU (None without one) and RAM."""
    for line in output_text(nb.cells.pop()).splitlines():
        if line.startswith(PEAKS):
            gpu, rss_kib = (int(v) for v in line.split()[1:3])
            return (round(gpu / 2**20) if gpu >= 0 else None), round(rss_kib / 1024)
    return None, None


class CellLog:
    """``<notebook>.cells.log``, a line as each code cell starts and ends with the seconds since the
    notebook started: a run cut off still says where it was (``tail -f`` it with ``--jobs``). Cells
    are numbered from 1 over every cell, as JupyterLab and the summary count them."""

    def __init__(self, path: Path, notebook: str):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(path, "w", encoding="utf-8", buffering=1)  # line-buffered: readable while it runs
        self.begun = self.cell_begun = time.perf_counter()
        self._line(f"{notebook} started")

    def _line(self, text: str) -> None:
        self.file.write(f"{time.perf_counter() - self.begun:8.1f} s  {text}\n")

    def started(self, index: int, source: str) -> None:
        self.cell_begun = time.perf_counter()
        self._line(f"cell {index + 1} started: `{_headline(source)}`")

    def ended(self, index: int) -> None:
        self._line(f"cell {index + 1} ended after {time.perf_counter() - self.cell_begun:.1f} s")

    def close(self, result: str) -> None:
        self._line(result)
        self.file.close()


# Run in a session of its own: once the runner is gone (its parent changes), SIGKILL included, kill the
# kernel's process group, which holds what the kernel forked (SwanLab's helpers); end when it is gone.
_KERNEL_WATCH = """
import contextlib, os, signal, sys, time
runner, group = int(sys.argv[1]), int(sys.argv[2])
with contextlib.suppress(ProcessLookupError):  # the group is gone
    while os.getppid() == runner:
        with contextlib.suppress(PermissionError):
            os.killpg(group, 0)
        time.sleep(0.5)
    os.killpg(group, signal.SIGKILL)
"""


def _watch_kernel(km) -> tuple[int | None, subprocess.Popen | None]:
    """The kernel's process group (jupyter_client starts it in a session of its own) and the watcher
    that kills the group if this process dies first."""
    pid = getattr(getattr(km, "provisioner", None), "pid", None)
    try:
        group = os.getpgid(pid) if pid is not None and hasattr(os, "killpg") else None
    except ProcessLookupError:
        group = None
    if group is None or group == os.getpgid(0):  # not a group of its own: killing it would kill us
        return None, None
    watcher = subprocess.Popen([sys.executable, "-c", _KERNEL_WATCH, str(os.getpid()), str(group)],
                               start_new_session=True, stdin=subprocess.DEVNULL)
    return group, watcher


def execute(path: Path, timeout: int, on_cell: Callable[[], None] | None = None, log: CellLog | None = None,
            nb=None, echo: Callable[[str], None] | None = None):
    """Run ``path`` (or ``nb``, read from it and changed) in a fresh kernel started in its folder.
    Returns the notebook with its outputs, the index of the last cell started, the exception that
    stopped it (None when every cell ran) and the kernel's peak GPU and RAM in MiB (both None after a
    failure). ``on_cell`` is called after each code cell, ``log`` told as each starts and ends, ``echo``
    given each output's text as it comes."""
    import nbformat
    from jupyter_client import AsyncKernelManager
    from jupyter_core.utils import run_sync
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nb if nb is not None else nbformat.read(path, as_version=4)
    n_cells = len(nb.cells)  # the notebook's own: the epilogue after them is not a cell run
    nb.cells.append(nbformat.v4.new_code_cell(EPILOGUE))
    current, watched = {"index": None}, {"group": None, "watcher": None}
    # inherited from a Jupyter server (`!make run` in a cell), it makes q.ChatPanel draw widgets nobody sees
    os.environ.pop("JPY_SESSION_NAME", None)
    # Unix sockets: over TCP, ipykernel 7 warns on every start that the connection is unencrypted.
    # The asynchronous manager, as nbclient's default: with the blocking one, a dead kernel (killed, out
    # of memory) leaves nbclient in a read that never returns, deaf to its timeout and to SIGTERM.
    km = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=str(Path(tempfile.mkdtemp()) / "kernel"))

    def cell_started(cell, cell_index, **_):
        current.update(index=cell_index)
        if log is not None and cell_index < n_cells:
            log.started(cell_index, cell.source)

    def cell_ended(cell_index, **_):
        if cell_index >= n_cells:  # the epilogue
            return
        if log is not None:
            log.ended(cell_index)
        if on_cell is not None:
            on_cell()

    def notebook_started(**_):
        watched["group"], watched["watcher"] = _watch_kernel(km)

    class Client(NotebookClient):
        def output(self, outs, msg, display_id, cell_index):
            out = super().output(outs, msg, display_id, cell_index)
            if echo is not None and out is not None and cell_index < n_cells:
                echo(output_text({"outputs": [out]}))
            return out

    client = Client(nb, km=km, timeout=timeout, resources={"metadata": {"path": str(path.parent)}},
                    on_notebook_start=notebook_started, on_cell_execute=cell_started, on_cell_executed=cell_ended)
    try:
        client.execute()
        return nb, current["index"], None, _pop_epilogue(nb)
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:  # a cell raised, timed out, killed it
        nb.cells.pop()
        return nb, current["index"], exc, (None, None)
    finally:
        if client.kc is not None:  # nbclient leaves a client of our kernel manager running
            client.kc.stop_channels()
        if km.has_kernel:
            run_sync(km.shutdown_kernel)(now=not run_sync(km.is_alive)())
        if watched["group"] is not None:  # what is left of the kernel's group: its children
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(watched["group"], signal.SIGKILL)
        if watched["watcher"] is not None:
            watched["watcher"].kill()
            watched["watcher"].wait()


def output_text(cell) -> str:
    """What a code cell printed or displayed, as plain text."""
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(out.get("data", {}).get("text/plain", ""))
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
    return "".join(parts)


def one_line(text: str, width: int = 150) -> str:
    """Lines joined with `` | ``, runs of spaces collapsed (tables stay readable), cut at ``width``."""
    line = " | ".join(" ".join(part.split()) for part in text.splitlines() if part.strip())
    return line if len(line) <= width else line[: width - 1] + "…"


def _error_text(exc: BaseException) -> str:
    if hasattr(exc, "ename"):  # nbclient's CellExecutionError: the kernel's exception
        return f"{exc.ename}: {exc.evalue}"
    if type(exc).__name__ == "DeadKernelError":
        return ("DeadKernelError: the kernel died while this cell ran (killed, or out of memory: "
                "`dmesg` names the OOM killer); the notebook's later cells did not run")
    first = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {first[0] if first else ''}"


def cell_seconds(cell) -> float | None:
    """How long a code cell ran, from the times nbclient records in its metadata; None if it did not run."""
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.status.busy"), timing.get("iopub.status.idle")
    if not (start and end):
        return None
    parse = lambda text: _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def _headline(source: str, width: int = 80) -> str:
    """A cell's first two lines of code (no comments or magics) joined with `` | ``: after an import,
    the second line says what the cell does."""
    lines = [line.strip() for line in source.splitlines() if line.strip() and not line.lstrip().startswith(("#", "%"))]
    text = " | ".join(lines[:2]) + (" | …" if len(lines) > 2 else "")
    return text if len(text) <= width else text[: width - 1] + "…"


def slowest_cells(nb, n: int = 3) -> list[dict]:
    """The ``n`` code cells that ran longest (0.1 s or more), slowest first: number (as JupyterLab
    counts every cell), seconds, headline."""
    timed = [(cell_seconds(c), i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    timed = sorted(((t, i, c) for t, i, c in timed if t is not None and t >= 0.1),
                   key=lambda row: -row[0])[:n]
    return [{"cell": i + 1, "seconds": round(t, 1), "source": _headline(c.source)} for t, i, c in timed]


def outcome_of(path: Path, nb, seconds: float, failed_index: int | None, exc: BaseException | None) -> Outcome:
    """The summary's entry for an executed (or partly executed) notebook."""
    ran = nb.cells if exc is None else nb.cells[: failed_index or 0]
    ran_code = [c for c in ran if c.cell_type == "code"]
    outcome = Outcome(
        notebook=path.name, status="passed" if exc is None else "failed", seconds=round(seconds, 1),
        cells_run=len([c for c in ran_code if c.get("execution_count") is not None]),
        code_cells=len(runnable(nb)),
        assert_lines=sum(line.lstrip().startswith("assert ") for c in ran_code for line in c.source.splitlines()),
        checked=[one_line(output_text(c)) for c in ran_code if CHECK in c.source],
        slowest=slowest_cells(nb))
    if exc is not None:
        outcome.error = _error_text(exc)
        if failed_index is not None:
            outcome.failed_cell = failed_index + 1
            outcome.failed_source = nb.cells[failed_index].source.strip().splitlines()[0][:80]
    return outcome


def _bar(total: int, desc: str, position: int, progress: bool | None, leave: bool):
    from tqdm.auto import tqdm

    # progress=None: bars on a terminal only (a CI log would fill with carriage returns)
    return tqdm(total=total, desc=desc, unit="cell" if position else "notebook", position=position,
                leave=leave, disable=None if progress is None else not progress, dynamic_ncols=True)


def prerequisites(paths: list[Path]) -> dict[Path, set[Path]]:
    """For each notebook of ``paths``, those among ``paths`` that must pass first: ``00_setup`` and
    the writer (``artifacts.STAGES``) of each stage it reads with ``require("<stage>")``. A stage
    whose writer is not among ``paths`` is expected on disk already."""
    import nbformat

    by_stem = {p.stem: p for p in paths}
    setup = next((p for p in paths if p.name.startswith("00_")), None)
    needs = {}
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        source = "\n".join(nb.cells[i].source for i in runnable(nb))
        stages = set(re.findall(r"""require\(\s*["']([a-z_]+)["']""", source))
        writers = {by_stem.get(artifacts.STAGES[stage][1]) for stage in stages if stage in artifacts.STAGES}
        needs[path] = {w for w in writers | {setup} if w is not None and w != path}
    return needs


def _dependents(path: Path, needs: dict[Path, set[Path]]) -> set[Path]:
    """Every notebook that needs ``path``, directly or through others."""
    found, frontier = set(), {path}
    while frontier:
        frontier = {p for p, n in needs.items() if n & frontier} - found
        found |= frontier
    return found


def run_notebooks(paths: list[Path], *, timeout: int = 1800, refresh: bool = False, handout: bool = False,
                  progress: bool | None = None, header: dict | None = None, jobs: int = 1) -> list[Outcome]:
    """Execute ``paths`` in order (with ``jobs`` > 1, up to that many at once where none needs
    another), starting nothing new after the first failure; write the executed copies (with
    ``refresh``, the checked outputs back into the sources), the summary and the handout."""
    import threading
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    import nbformat
    from tqdm.auto import tqdm

    out_dir = stage_dir("notebooks")
    outcomes = {p: Outcome(notebook=p.name) for p in paths}
    executed, start = {}, time.perf_counter()
    overall = _bar(len(paths), "series", 0, progress, leave=True)
    lock = threading.Lock()

    def run_one(path: Path) -> bool:
        # cell bars only when one notebook runs at a time (several would draw over each other)
        cells = _bar(len(runnable(nbformat.read(path, as_version=4))), path.stem, 1,
                     progress if jobs == 1 else False, leave=False)
        begun = time.perf_counter()
        log = CellLog(out_dir / f"{path.stem}.cells.log", path.name)
        try:
            nb, index, exc, (gpu, ram) = execute(path, timeout, on_cell=lambda: cells.update(1), log=log)
        except BaseException as err:  # the kernel could not start, or the run was interrupted
            log.close(f"stopped: {type(err).__name__}")
            raise
        cells.close()
        outcome = outcome_of(path, nb, time.perf_counter() - begun, index, exc)
        log.close(f"{outcome.status} in {outcome.seconds:.1f} s"
                  + (f": {_error_text(exc)}" if exc is not None else ""))
        outcome.gpu_peak_mib, outcome.ram_peak_mib = gpu, ram
        where = path if refresh and exc is None else out_dir / path.name
        atomic_write_text(where, nbformat.writes(keep_checked_outputs(nb) if where == path else nb) + "\n")
        outcome.written = str(where)
        with lock:
            outcomes[path] = outcome
            overall.update(1)
            peaks = "".join(f"  {what} peak {mib:,} MiB" for what, mib in (("GPU", gpu), ("RAM", ram)) if mib is not None)
            tqdm.write(f"{path.name:<32} {outcome.seconds:6.1f} s  {outcome.status:<6}{peaks}  -> {where}")
            if exc is not None:
                print(f"{exc}\n{failure_message(outcome)}", file=sys.stderr)
            else:
                executed[path] = nb
        return exc is None

    if jobs == 1:  # in this thread, in the series' order
        for path in paths:
            if not run_one(path):
                break
    else:
        needs = prerequisites(paths)
        # the notebooks that more others wait for go first (03 before 01: 04 to 08 need it)
        waiting, running, failed = sorted(paths, key=lambda p: -len(_dependents(p, needs))), {}, False
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            while waiting or running:
                ready = [] if failed else [p for p in waiting if needs[p] <= set(executed)]
                for path in ready[: jobs - len(running)]:
                    waiting.remove(path)
                    tqdm.write(f"{path.name:<32} started")
                    running[pool.submit(run_one, path)] = path
                if not running:
                    break  # a notebook failed, or what the rest need did not pass
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    running.pop(future)
                    failed |= not future.result()
    overall.close()
    total = time.perf_counter() - start
    ordered = [outcomes[p] for p in paths]
    print(f"{'all notebooks':<32} {total:6.1f} s  -> {write_summary(ordered, out_dir, total, header or {})}")
    if handout and len(executed) == len(paths):
        print("handout:", write_handout([(p, executed[p]) for p in paths], stage_dir("handout")))
    return ordered


def failure_message(outcome: Outcome) -> str:
    """The notebook, the cell and the error, and where the executed part is."""
    cell = f"cell {outcome.failed_cell} (`{outcome.failed_source}`)" if outcome.failed_cell else "its kernel"
    return (f"{outcome.notebook} failed in {cell}: {outcome.error}\n"
            f"the executed part, with every output so far, is in {outcome.written}")


# -- what a run leaves --------------------------------------------------------------------------

def write_summary(outcomes: list[Outcome], out_dir: Path, seconds: float, header: dict) -> Path:
    """``summary.json`` (everything) and ``summary.md`` (one page) in ``out_dir``."""
    passed = sum(o.status == "passed" for o in outcomes)
    data = {"passed": passed == len(outcomes), "seconds": round(seconds, 1),
            "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            **header, "notebooks": [asdict(o) for o in outcomes]}
    atomic_write_text(out_dir / "summary.json", json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    lines = [f"# qwen3lab run: {passed} of {len(outcomes)} notebooks passed in {seconds:.1f} s", "",
             *(f"- {k}: {v}" for k, v in header.items()), f"- finished: {data['finished']}", "",
             "| notebook | result | time (s) | code cells run | assert lines | checked cells | GPU peak (MiB) "
             "| RAM peak (MiB) |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    mib = lambda v: "-" if v is None else f"{v:,}"  # noqa: E731
    lines += [f"| {o.notebook} | {o.status} | {o.seconds:.1f} | {o.cells_run}/{o.code_cells} | {o.assert_lines} "
              f"| {len(o.checked)} | {mib(o.gpu_peak_mib)} | {mib(o.ram_peak_mib)} |" for o in outcomes]
    timed = [o for o in outcomes if o.slowest]
    if timed:
        lines += ["", "## Where the time went: the slowest cells", ""]
        lines += [f"- {o.notebook}: " + ", ".join(f"{c['seconds']:.1f} s in cell {c['cell']} (`{c['source']}`)"
                                                  for c in o.slowest) for o in timed]
    for o in outcomes:
        if o.error:
            lines += ["", f"**{failure_message(o).splitlines()[0]}**"]
        if o.checked:
            lines += ["", f"## {o.notebook}: what its checked cells printed", "", "```", *o.checked, "```"]
    path = out_dir / "summary.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def write_handout(notebooks: list[tuple[Path, object]], out_dir: Path) -> Path:
    """Each executed notebook as ``.ipynb`` and self-contained ``.html``, and an ``index.html``."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter()
    links = []
    for path, nb in notebooks:
        atomic_write_text(out_dir / path.name, nbformat.writes(nb) + "\n")
        atomic_write_text(out_dir / f"{path.stem}.html", exporter.from_notebook_node(nb)[0])
        title = next((c.source.splitlines()[0].lstrip("# ") for c in nb.cells if c.cell_type == "markdown"), path.stem)
        links.append(f'<li><a href="{path.stem}.html">{html.escape(title)}</a> '
                     f'(<a href="{path.name}">ipynb</a>)</li>')
    index = ("<!doctype html><meta charset='utf-8'><title>qwen3lab handout</title>"
             "<h1>qwen3lab: the executed series</h1><ol>" + "".join(links) + "</ol>")
    atomic_write_text(out_dir / "index.html", index + "\n")
    return out_dir / "index.html"


def keep_checked_outputs(nb):
    """Only the outputs nbval compares (``--refresh``); every other output cleared."""
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        if CHECK not in cell.source:
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)
    return nb


# -- choosing what runs, and with which config --------------------------------------------------

def series(folder: Path) -> dict[int, Path]:
    """The numbered notebooks of ``folder`` (``NN_name.ipynb``), by number."""
    found = {int(p.name[:2]): p for p in sorted(folder.glob("[0-9][0-9]_*.ipynb"))}
    if not found:
        raise ValueError(f"no numbered notebooks (NN_name.ipynb) in {folder}")
    return found


def select(found: dict[int, Path], first: str | None, last: str | None) -> list[Path]:
    """The notebooks numbered ``first`` to ``last`` (both included; default: all)."""
    def number(text: str | None, default: int, option: str) -> int:
        if text is None:
            return default
        if not text.isdigit() or int(text) not in found:
            names = ", ".join(p.stem for p in found.values())
            raise ValueError(f"{option} {text}: no notebook has that number; the series is {names}")
        return int(text)

    lo, hi = number(first, min(found), "--from"), number(last, max(found), "--to")
    if lo > hi:
        raise ValueError(f"--from {first} comes after --to {last}")
    return [p for n, p in sorted(found.items()) if lo <= n <= hi]


def checked_config() -> tuple[object, dict]:
    """The config the kernels will read, validated here so that a bad key or value stops before any
    kernel starts; and the summary's header: profile, config file, the fields changed from the profile."""
    cfg = config.get_config()
    preset = config.PROFILES[cfg.profile].to_dict()
    changed = {k: v for k, v in cfg.to_dict().items() if preset[k] != v}
    header = {"profile": cfg.profile, "config file": os.environ.get(config.CONFIG_ENV) or "none",
              "changed from the profile": ", ".join(f"{k} = {v!r}" for k, v in changed.items()) or "nothing",
              "artifacts root": str(artifacts.artifacts_root())}
    return cfg, header


# -- the two command lines ---------------------------------------------------------------------

def _whole(option: str, unit: str) -> Callable[[str], int]:
    """An argparse type: a whole number, 1 or more."""
    def parse(text: str) -> int:
        if not text.isdigit() or int(text) < 1:
            raise argparse.ArgumentTypeError(
                f"{option} takes a whole number of {unit}, 1 or more, not {text!r}")
        return int(text)

    return parse


_seconds, _jobs = _whole("--timeout", "seconds per cell"), _whole("--jobs", "notebooks at once")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="qwen3lab", description="qwen3lab's command line (python -m qwen3lab).")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run", help="execute the notebooks headless, as make run does",
        description="Execute the numbered notebooks in order, each in a fresh kernel, as `make run` does. "
                    "Executed copies, summary.md and summary.json go to <artifacts root>/notebooks/; "
                    "the exit code is 1 when a notebook fails (the message names it and the cell).")
    run.add_argument("--profile", choices=sorted(config.PROFILES), help="the preset (QWEN3LAB_PROFILE; default: the "
                     "config file's `profile`, else tiny)")
    run.add_argument("--config", type=Path, metavar="FILE", help="a TOML file of `field = value` lines "
                     "(QWEN3LAB_CONFIG), checked before anything runs")
    run.add_argument("--from", dest="first", metavar="NN", help="first notebook to run, by number (e.g. 03)")
    run.add_argument("--to", dest="last", metavar="NN", help="last notebook to run, by number (e.g. 06)")
    run.add_argument("--home", type=Path, metavar="DIR", help="the artifacts root (QWEN3LAB_HOME; default ./artifacts)")
    run.add_argument("--notebooks", type=Path, metavar="DIR", help="the folder of the series (default: the "
                     "checkout's notebooks/)")
    _run_options(run)
    return top


def _run_options(cli: argparse.ArgumentParser) -> None:
    """The options both command lines share."""
    cli.add_argument("--handout", action="store_true", help="also write notebooks + HTML to <artifacts>/handout")
    cli.add_argument("--timeout", type=_seconds, default=1800, metavar="S", help="seconds per cell (default 1800)")
    cli.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="progress bars over the notebooks and their cells (default: on a terminal only)")
    cli.add_argument("--jobs", type=_jobs, default=1, metavar="N", help="notebooks at once where none needs another "
                     "(01 and 02 beside 03, 07 beside 06; default 1: the series' order)")


def _run(prog: str, argv: list[str] | None, paths: list[Path], args, header: dict,
         refresh: bool = False) -> int:
    """Run ``paths`` with the options of ``args``: 0 when every notebook passed, else 1."""
    header["command"] = f"{prog} " + " ".join(sys.argv[1:] if argv is None else argv)
    outcomes = run_notebooks(paths, timeout=args.timeout, refresh=refresh, handout=args.handout,
                             progress=args.progress, header=header, jobs=args.jobs)
    return 0 if all(o.status == "passed" for o in outcomes) else 1


def main(argv: list[str] | None = None) -> int:
    """``python -m qwen3lab run ...``: 0 when every selected notebook passed, 1 when one failed, 2
    for a bad option or config (before any kernel starts)."""
    args = parser().parse_args(argv)
    for env, value in ((artifacts.HOME_ENV, args.home), (config.CONFIG_ENV, args.config),
                       (config.PROFILE_ENV, args.profile)):
        if value is not None:  # absolute: each kernel starts in the notebook's folder
            os.environ[env] = str(value.expanduser().resolve()) if isinstance(value, Path) else value
    try:
        if args.home is not None and args.home.expanduser().exists() and not args.home.expanduser().is_dir():
            raise ValueError(f"--home {args.home} is a file; the artifacts root must be a folder (or not exist yet)")
        root = args.notebooks or (artifacts.project_root() or Path.cwd()) / "notebooks"
        paths = select(series(root), args.first, args.last)
        cfg, header = checked_config()
        home = artifacts.artifacts_root()
        existing = next(p for p in (home, *home.parents) if p.exists())
        if not os.access(existing, os.W_OK | os.X_OK):
            raise ValueError(f"the artifacts root {home} cannot be written ({existing} is read-only for this "
                             f"user): choose another one with --home or {artifacts.HOME_ENV}")
        if args.profile and cfg.profile != args.profile:
            raise ConfigError(f"--profile {args.profile}, but {os.environ[config.CONFIG_ENV]} sets "
                              f"profile = {cfg.profile!r}; keep one of them")
    except ValueError as exc:  # ConfigError included
        print(f"qwen3lab run: error: {exc}", file=sys.stderr)
        return 2
    return _run("qwen3lab", argv, paths, args, header)


def files_main(argv: list[str] | None = None) -> int:
    """``tools/run_notebooks.py [--refresh | --handout] NOTEBOOK...``, for the Makefile."""
    cli = argparse.ArgumentParser(prog="run_notebooks.py", description="Execute notebooks in order, as make run does.")
    cli.add_argument("notebooks", nargs="+", type=Path)
    cli.add_argument("--refresh", action="store_true", help="store checked outputs back into the sources")
    _run_options(cli)
    args = cli.parse_args(argv)
    try:
        _, header = checked_config()
    except ConfigError as exc:
        print(f"run_notebooks.py: error: {exc}", file=sys.stderr)
        return 2
    return _run("run_notebooks.py", argv, args.notebooks, args, header, refresh=args.refresh)
