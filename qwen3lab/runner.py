"""Execute the series headless: ``python -m qwen3lab run``, and ``make run`` / ``make handout`` /
``make refresh-outputs`` through ``tools/run_notebooks.py``.

It is the notebooks that run, not a copy of their code: each in a fresh kernel started in the
notebook's folder, in order, as a learner runs them. Executed copies go to
``<artifacts root>/notebooks/``, next to ``summary.md`` and ``summary.json``: per notebook its
wall time, whether it passed, how many code cells ran, and what its ``# NBVAL_CHECK_OUTPUT``
cells printed (the stable facts nbval compares), one line each. The first notebook that fails
stops the run: its copy holds every output up to the failing cell, and the exit code is 1.

This process only starts kernels, so it imports neither Unsloth nor torch: ``artifacts.py`` and
``config.py`` (standard library only) are loaded by file path, because ``import qwen3lab`` imports
Unsloth (17 s on 2 CPU cores) and sets some 30 environment variables (``HF_HUB_OFFLINE`` among
them) that every kernel would inherit.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import html
import importlib.util
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable


def _sibling(name: str):
    """``qwen3lab/<name>.py`` loaded on its own, without the package's ``__init__`` (Unsloth)."""
    key = f"_qwen3lab_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, Path(__file__).with_name(f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module  # before exec: dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules[key]


artifacts, config = _sibling("artifacts"), _sibling("config")
atomic_write_text, stage_dir = artifacts.atomic_write_text, artifacts.stage_dir
ConfigError = config.ConfigError

CHECK = "# NBVAL_CHECK_OUTPUT"
# nbformat, nbclient and tqdm are imported where they are used: nbformat's jsonschema alone takes
# 2 s, which `--help` and a refused config file need not wait for.


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


# -- executing ------------------------------------------------------------------------------------

def _runnable(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code" and c.source.strip()
            and "skip-execution" not in c.metadata.get("tags", [])]


def execute(path: Path, timeout: int, on_cell: Callable[[], None] | None = None):
    """Run ``path`` in a fresh kernel. Returns the notebook with its outputs, the index of the last
    cell started and the exception that stopped it (None when every cell ran)."""
    import nbformat
    from jupyter_client import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    current = {"index": None}
    # started from a notebook cell (`!make run`), this process inherits the Jupyter server's session
    # variable; a kernel that sees it draws widgets (q.ChatPanel) that nobody will ever see
    os.environ.pop("JPY_SESSION_NAME", None)
    # a local kernel over Unix sockets: over TCP, ipykernel 7 warns on every start that the
    # connection is unencrypted (harmless on one machine, and not something a learner can act on)
    km = KernelManager(kernel_name="python3", transport="ipc", ip=str(Path(tempfile.mkdtemp()) / "kernel"))
    client = NotebookClient(nb, km=km, timeout=timeout, resources={"metadata": {"path": str(path.parent)}},
                            on_cell_execute=lambda cell_index, **_: current.update(index=cell_index),
                            on_cell_executed=lambda **_: on_cell and on_cell())
    try:
        client.execute()
        return nb, current["index"], None
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:  # a cell raised, timed out, killed it
        return nb, current["index"], exc
    finally:
        if client.kc is not None:  # nbclient leaves a client of our kernel manager running
            client.kc.stop_channels()
        if km.has_kernel:
            km.shutdown_kernel(now=False)


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
    first = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {first[0] if first else ''}"


def outcome_of(path: Path, nb, seconds: float, failed_index: int | None, exc: BaseException | None) -> Outcome:
    """The summary's entry for an executed (or partly executed) notebook."""
    ran = nb.cells if exc is None else nb.cells[: failed_index or 0]
    ran_code = [c for c in ran if c.cell_type == "code"]
    outcome = Outcome(
        notebook=path.name, status="passed" if exc is None else "failed", seconds=round(seconds, 1),
        cells_run=len([c for c in ran_code if c.get("execution_count") is not None]),
        code_cells=len(_runnable(nb)),
        assert_lines=sum(line.lstrip().startswith("assert ") for c in ran_code for line in c.source.splitlines()),
        checked=[one_line(output_text(c)) for c in ran_code if CHECK in c.source])
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


def run_notebooks(paths: list[Path], *, timeout: int = 1800, refresh: bool = False, handout: bool = False,
                  progress: bool | None = None, header: dict | None = None) -> list[Outcome]:
    """Execute ``paths`` in order, stopping at the first failure; write the executed copies (or,
    with ``refresh``, the checked outputs back into the sources), the summary and the handout."""
    import nbformat
    from tqdm.auto import tqdm

    out_dir = stage_dir("notebooks")
    outcomes = [Outcome(notebook=p.name) for p in paths]
    executed, start = [], time.perf_counter()
    overall = _bar(len(paths), "series", 0, progress, leave=True)
    for i, path in enumerate(paths):
        cells = _bar(len(_runnable(nbformat.read(path, as_version=4))), path.stem, 1, progress, leave=False)
        begun = time.perf_counter()
        nb, index, exc = execute(path, timeout, on_cell=lambda: cells.update(1))
        cells.close()
        outcomes[i] = outcome = outcome_of(path, nb, time.perf_counter() - begun, index, exc)
        where = path if refresh and exc is None else out_dir / path.name
        atomic_write_text(where, nbformat.writes(keep_checked_outputs(nb) if where == path else nb) + "\n")
        outcome.written = str(where)
        overall.update(1)
        tqdm.write(f"{path.name:<32} {outcome.seconds:6.1f} s  {outcome.status:<6}  -> {where}")
        if exc is not None:
            overall.close()
            print(f"{exc}\n{failure_message(outcome)}", file=sys.stderr)
            break
        executed.append((path, nb))
    overall.close()
    total = time.perf_counter() - start
    print(f"{'all notebooks':<32} {total:6.1f} s  -> {write_summary(outcomes, out_dir, total, header or {})}")
    if handout and len(executed) == len(paths):
        print("handout:", write_handout(executed, stage_dir("handout")))
    return outcomes


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
             "| notebook | result | time (s) | code cells run | assert lines | checked cells |",
             "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {o.notebook} | {o.status} | {o.seconds:.1f} | {o.cells_run}/{o.code_cells} | {o.assert_lines} "
              f"| {len(o.checked)} |" for o in outcomes]
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
        body, _ = exporter.from_notebook_node(nb)
        atomic_write_text(out_dir / f"{path.stem}.html", body)
        title = next((c.source.splitlines()[0].lstrip("# ") for c in nb.cells if c.cell_type == "markdown"), path.stem)
        links.append(f'<li><a href="{path.stem}.html">{html.escape(title)}</a> '
                     f'(<a href="{path.name}">ipynb</a>)</li>')
    index = ("<!doctype html><meta charset='utf-8'><title>qwen3lab handout</title>"
             "<h1>qwen3lab: the executed series</h1><ol>" + "".join(links) + "</ol>")
    atomic_write_text(out_dir / "index.html", index + "\n")
    return out_dir / "index.html"


def keep_checked_outputs(nb):
    """Only the outputs nbval compares (``--refresh``); every other output cleared."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if CHECK not in cell.source:
            cell.outputs = []
            cell.execution_count = None
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
    """The config the kernels will read (``$QWEN3LAB_PROFILE``, ``$QWEN3LAB_CONFIG``,
    ``QWEN3LAB_<FIELD>``), validated here so that a bad key or value stops before any kernel
    starts; and the summary's header: profile, config file, the fields changed from the profile."""
    cfg = config.get_config()
    preset = config.PROFILES[cfg.profile].to_dict()
    changed = {k: v for k, v in cfg.to_dict().items() if preset[k] != v}
    header = {"profile": cfg.profile, "config file": os.environ.get(config.CONFIG_ENV) or "none",
              "changed from the profile": ", ".join(f"{k} = {v!r}" for k, v in changed.items()) or "nothing",
              "artifacts root": str(artifacts.artifacts_root())}
    return cfg, header


# -- the two command lines ---------------------------------------------------------------------

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
    run.add_argument("--handout", action="store_true", help="also write notebooks + HTML to <artifacts>/handout")
    run.add_argument("--timeout", type=int, default=1800, metavar="S", help="seconds per cell (default 1800)")
    run.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="progress bars over the notebooks and their cells (default: on a terminal only)")
    return top


def main(argv: list[str] | None = None) -> int:
    """``python -m qwen3lab run ...``: 0 when every selected notebook passed, 1 when one failed, 2
    for a bad option or config (before any kernel starts)."""
    top = parser()
    args = top.parse_args(argv)
    for env, value in ((artifacts.HOME_ENV, args.home), (config.CONFIG_ENV, args.config),
                       (config.PROFILE_ENV, args.profile)):
        if value is not None:  # absolute: each kernel starts in the notebook's folder
            os.environ[env] = str(value.expanduser().resolve()) if isinstance(value, Path) else value
    try:
        root = args.notebooks or (artifacts.project_root() or Path.cwd()) / "notebooks"
        paths = select(series(root), args.first, args.last)
        cfg, header = checked_config()
        if args.profile and cfg.profile != args.profile:
            raise ConfigError(f"--profile {args.profile}, but {os.environ[config.CONFIG_ENV]} sets "
                              f"profile = {cfg.profile!r}; keep one of them")
    except (ValueError, ConfigError) as exc:  # ConfigError is a ValueError; named for the reader
        print(f"qwen3lab run: error: {exc}", file=sys.stderr)
        return 2
    header["command"] = "qwen3lab " + " ".join(sys.argv[1:] if argv is None else argv)
    outcomes = run_notebooks(paths, timeout=args.timeout, handout=args.handout, progress=args.progress,
                             header=header)
    return 0 if all(o.status == "passed" for o in outcomes) else 1


def files_main(argv: list[str] | None = None) -> int:
    """``tools/run_notebooks.py [--refresh | --handout] NOTEBOOK...``, for the Makefile."""
    cli = argparse.ArgumentParser(prog="run_notebooks.py", description="Execute notebooks in order, as make run does.")
    cli.add_argument("notebooks", nargs="+", type=Path)
    cli.add_argument("--refresh", action="store_true", help="store checked outputs back into the sources")
    cli.add_argument("--handout", action="store_true", help="also write notebooks + HTML to <artifacts>/handout")
    cli.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    cli.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="progress bars (default: on a terminal only)")
    args = cli.parse_args(argv)
    try:
        _, header = checked_config()
    except ConfigError as exc:
        print(f"run_notebooks.py: error: {exc}", file=sys.stderr)
        return 2
    header["command"] = "run_notebooks.py " + " ".join(sys.argv[1:] if argv is None else argv)
    outcomes = run_notebooks(args.notebooks, timeout=args.timeout, refresh=args.refresh, handout=args.handout,
                             progress=args.progress, header=header)
    return 0 if all(o.status == "passed" for o in outcomes) else 1
