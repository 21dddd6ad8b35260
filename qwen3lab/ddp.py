"""Notebook 05's training, data-parallel: the notebook's own code cells run as a script in every
process of ``torchrun`` (or ``accelerate launch``), one model replica per process.

    make train-ddp NPROC=2                        # torchrun --standalone --nproc_per_node 2 tools/train_ddp.py
    make train-ddp NPROC=2 DDP_ARGS=--keep-rows   # the source's 8 rows per optimizer step, over 2 processes
    accelerate launch --multi_gpu --num_processes 2 tools/train_ddp.py

The code that trains is the notebook's, not a copy: ``notebook_cells`` reads
``notebooks/05_lora_training.ipynb`` with nbformat and ``run`` executes its code cells in order in
one namespace, as a kernel does, from the notebook's folder. Which cell runs where (the rule):

1. Markdown and empty cells are skipped; so are code cells tagged ``skip-execution`` (the tag the
   headless runner honours) or ``skip-ddp`` (for a demonstration a data-parallel run does not need).
2. Line magics (``%matplotlib inline``) are dropped: they set up a notebook's display, and a
   script draws into files (``MPLBACKEND=Agg``). A shell line (``!``) or a cell magic stops the run.
3. Every process runs the cells up to the last one that calls ``trainer.train(`` (the two training
   cells of section 7 and 8 and everything before them: loading, LoRA, ``SFTConfig``,
   ``fast.apply``, ``SFTTrainer``, ``train_on_responses_only``, ``q.require_trainable``). Every
   process must run the same collective calls in the same order, so they all run the same cells.
4. The cells after it (curves, tables, the adapter's save with ``q.atomic_dir`` and
   ``q.write_manifest``) run in the process of rank 0 alone: the others wait at a barrier.
5. A cell's last expression is printed (on rank 0), as a notebook shows it.

So rank 0 alone writes the adapter, its manifest and the curves; the trainer writes checkpoints
from rank 0 (plus one ``rng_state_<rank>.pth`` per process, which resuming reads). Before the
cells run, every process other than rank 0 gets ``QWEN3LAB_REPORT_TO=none`` (section 3's cell then
starts no SwanLab run there: one run, rank 0's) and, from ``tools/train_ddp.py``, its standard
output goes nowhere (its errors still reach standard error).

The effective batch (per-device batch x processes x accumulation) is printed when training
starts. By default each process runs the notebook's recipe, so an optimizer step takes N times the
source's 8 rows. ``keep_rows`` keeps the source's rows per step: the accumulation (and where it must,
the per-device batch) is divided by N through ``QWEN3LAB_<FIELD>`` overrides (``split_rows``),
which every cell then reads from ``cfg``, as the notebook's own asserts expect.

Besides the cells, the runner does four things, each a named function: it joins the launcher's
process group first (``init_distributed``: NCCL on GPUs, gloo on a CPU), and gives every trainer the
notebook builds a barrier after each checkpoint (``checkpoint_barrier``), a new DDP wrapper for each
``train()`` call after the first (``rewrap_before_each_train``) and, on a CPU, a device without an
index (``plain_cpu_device``): the three upstream traps a data-parallel run of this notebook meets,
each explained in its docstring. Rank 0 then writes ``<artifacts>/runs/lora/ddp_summary.json``: the
batch, the loss and gradient-norm curves, the trained tokens per second of all processes.

No notebook calls this module: it is what ``make train-ddp`` runs (docs/gpu.md, "More than one GPU").
"""

from __future__ import annotations

import argparse
import ast
import datetime as _dt
import json
import linecache
import os
import re
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .artifacts import atomic_write_text, library_versions, project_root, stage_dir
from .config import FIELD_ENV_PREFIX, get_config

NOTEBOOK = "05_lora_training.ipynb"
SKIP_TAGS = ("skip-execution", "skip-ddp")
TRAIN_CALL = re.compile(r"\btrainer\.train\(")
PG_TIMEOUT_MIN = 30  # what rank 0's saving may take while the others wait (NCCL's default is 10)


class NotebookShapeError(ValueError):
    """The notebook no longer has the shape this runner relies on (no ``trainer.train(`` cell...)."""


class CellError(RuntimeError):
    """A cell of the notebook raised in this process (its traceback is printed already)."""


@dataclass(frozen=True)
class Cell:
    """One code cell as the runner executes it: its 1-based number among all cells (as JupyterLab
    counts), its source without line magics, and whether every process runs it or rank 0 alone."""

    number: int
    source: str
    every_rank: bool

    @property
    def first_line(self) -> str:
        return next((line for line in self.source.splitlines() if line.strip()), "")[:80]


# -- which cells run where ------------------------------------------------------------------------

def _script_source(source: str, number: int) -> str:
    """The cell's Python: line magics dropped; shell lines and cell magics refused."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        raise NotebookShapeError(f"cell {number} is a cell magic ({lines[0].strip()}): it cannot run as a script")
    kept = []
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith("!"):
            raise NotebookShapeError(f"cell {number} runs a shell line ({stripped[:60]}): it cannot run as a script")
        kept.append("" if stripped.startswith("%") else line)  # blank, so that line numbers stay
    return "\n".join(kept)


def notebook_cells(nb) -> list[Cell]:
    """The code cells of ``nb`` that the data-parallel run executes, in order, with where each runs
    (the module docstring's rule). Part of make train-ddp."""
    chosen = [(i + 1, c) for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()
              and not set(SKIP_TAGS) & set(c.metadata.get("tags", []))]
    training = [n for n, c in chosen if TRAIN_CALL.search(c.source)]
    if not training:
        raise NotebookShapeError("no code cell calls trainer.train(: the data-parallel runner splits the notebook "
                                 "after the last one (qwen3lab/ddp.py)")
    return [Cell(n, _script_source(c.source, n), n <= training[-1]) for n, c in chosen]


# -- the batch ------------------------------------------------------------------------------------

def split_rows(per_device: int, accumulation: int, processes: int) -> tuple[int, int]:
    """(per-device batch, accumulation) that give ``per_device x accumulation`` rows per optimizer
    step over ``processes`` processes: the accumulation is divided, and the batch only where the
    accumulation left is below 1 (2 x 4 over 2 processes: 2 x 2; over 4: 2 x 1; over 8: 1 x 1).
    Part of make train-ddp."""
    rows = per_device * accumulation
    if rows % processes:
        raise ValueError(f"keep_rows: {rows} rows per optimizer step ({per_device} x {accumulation}) do not "
                         f"split evenly over {processes} processes; use a number of processes that divides "
                         f"{rows}, or train without --keep-rows ({rows * processes} rows per step)")
    share = rows // processes
    batch = max(d for d in range(1, min(per_device, share) + 1) if share % d == 0)
    return batch, share // batch


def effective_batch(per_device: int, processes: int, accumulation: int) -> str:
    """``"2 per device x 2 processes x 2 accumulation = 8 rows per optimizer step"``."""
    return (f"{per_device} per device x {processes} process{'es' if processes > 1 else ''} x {accumulation} "
            f"accumulation = {per_device * processes * accumulation} rows per optimizer step")


def batch_overrides(cfg, processes: int, keep_rows: bool) -> dict[str, str]:
    """The ``QWEN3LAB_<FIELD>`` variables that make every process's ``cfg`` carry its share of the batch."""
    if not keep_rows or processes == 1:
        return {}
    batch, accumulation = split_rows(cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps, processes)
    return {f"{FIELD_ENV_PREFIX}PER_DEVICE_TRAIN_BATCH_SIZE": str(batch),
            f"{FIELD_ENV_PREFIX}GRADIENT_ACCUMULATION_STEPS": str(accumulation)}


# -- the process group ------------------------------------------------------------------------------

def world() -> tuple[int, int, int]:
    """(rank, local rank, number of processes) as torchrun and accelerate launch set them."""
    env = os.environ
    return int(env.get("RANK", 0)), int(env.get("LOCAL_RANK", 0)), int(env.get("WORLD_SIZE", 1))


def init_distributed() -> str | None:
    """Join the launcher's process group, before the notebook's cells: NCCL with one GPU per process
    (``LOCAL_RANK``, where Unsloth's loader puts the model too), gloo on a CPU. Accelerate and the
    trainer then use this group. Returns the backend; None for one process."""
    import datetime

    import torch
    import torch.distributed as dist

    _, local_rank, processes = world()
    if processes == 1 or dist.is_initialized():
        return dist.get_backend() if dist.is_initialized() else None
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl", timeout=datetime.timedelta(minutes=PG_TIMEOUT_MIN),
                                device_id=torch.device("cuda", local_rank))
    else:
        plain_cpu_device()
        dist.init_process_group("gloo", timeout=datetime.timedelta(minutes=PG_TIMEOUT_MIN))
    return dist.get_backend()


def plain_cpu_device() -> None:
    """Make the trainer's device ``cpu``, not ``cpu:0``, in a run of several CPU processes.

    Works around accelerate 1.15 with transformers 5.17 and torch 2.13: for a multi-process CPU run
    (``DistributedType.MULTI_CPU``) ``PartialState.set_device`` gives every process
    ``torch.device("cpu", local_rank % torch.cpu.device_count())``, that is ``cpu:0``; when
    ``world_size > 1``, ``Trainer._load_optimizer_and_scheduler`` loads ``optimizer.pt`` with
    ``map_location=args.device``, and torch's ``_cpu_deserialize`` accepts only the location
    ``"cpu"``: resuming from a checkpoint (notebook 05's section 8) fails with ``RuntimeError:
    don't know how to restore data location of torch.storage.UntypedStorage (tagged with cpu:0)``.
    ``PartialState`` takes its device from ``ACCELERATE_TORCH_DEVICE`` when that is set, so it is set
    to ``cpu`` (a value the user set stays). Part of make train-ddp.
    """
    os.environ.setdefault("ACCELERATE_TORCH_DEVICE", "cpu")


def barrier() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()


def _all_reduce(values: list[float], op: str) -> list[float]:
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        return values
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=getattr(dist.ReduceOp, op))
    return tensor.tolist()


def checkpoint_barrier():
    """A ``TrainerCallback`` that holds every process after each checkpoint until all have written
    their part.

    Works around transformers 5.17 under more than one process: ``Trainer._save_checkpoint`` writes the
    adapter, optimizer, scheduler and ``trainer_state.json`` from rank 0 and each process's
    ``rng_state_<rank>.pth``, with no barrier after them. Notebook 05 stops after a checkpoint and
    resumes at once (``trainer.train(resume_from_checkpoint=True)``): a process that gets there first
    reads the checkpoint while rank 0 is still writing it (``FileNotFoundError: ...
    trainer_state.json``, or a half-written ``optimizer.pt``). ``on_save`` runs in every process
    after its part of the checkpoint, so a barrier there is enough. Part of make train-ddp.
    """
    from transformers import TrainerCallback

    class CheckpointBarrier(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            barrier()

    return CheckpointBarrier()


def rewrap_before_each_train(trainer) -> None:
    """Give every ``trainer.train()`` call after the first a new DDP wrapper, over the model's parameters
    as they are then.

    Works around transformers 5.17 with PEFT 0.21 when one process calls ``trainer.train()`` twice,
    as notebook 05 does (an interruption, then ``resume_from_checkpoint``). The first call wraps the
    model in ``DistributedDataParallel``, whose reducer all-reduces the gradients of the parameters it
    found then; the second call finds that wrapper in ``trainer.model_wrapped`` and keeps it
    (``_wrap_model``: "if already wrapped, don't re-wrap it again"). But resuming loads the adapter
    with PEFT's ``load_adapter``, which replaces bfloat16 LoRA weights by new float32 parameters
    (``cast_adapter_dtype``: "if some object references the old parameters, they will not be
    updated"): the old wrapper no longer reduces the parameters that train, and each process steps on
    the gradient of its own rows only, silently (measured on the tiny model: the first resumed step's
    grad_norm 0.343 on 2 processes against 0.192 on one). Dropping the old wrapper (and the
    accelerator's reference to it) makes ``train()`` prepare a new one over the current parameters.
    Part of make train-ddp.
    """
    inner = trainer.train

    def train(*args, **kwargs):
        old = trainer.model_wrapped
        if old is not trainer.model:
            trainer.accelerator._models = [m for m in trainer.accelerator._models if m is not old]
            trainer.model_wrapped = trainer.model
            del old
        return inner(*args, **kwargs)

    trainer.train = train


def batch_report(report: dict[str, Any]):
    """A ``TrainerCallback`` that prints the effective batch when training starts (rank 0) and keeps
    it in ``report``: what the trainer really uses, after ``fast.apply`` and Unsloth have had their say."""
    from transformers import TrainerCallback

    class BatchReport(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            values = {"per_device_train_batch_size": args.per_device_train_batch_size,
                      "processes": args.world_size, "gradient_accumulation_steps": args.gradient_accumulation_steps}
            values["rows_per_step"] = (values["per_device_train_batch_size"] * values["processes"]
                                       * values["gradient_accumulation_steps"])
            if report.get("batch") != values and state.is_world_process_zero:
                print("effective batch:", effective_batch(args.per_device_train_batch_size, args.world_size,
                                                          args.gradient_accumulation_steps))
            report["batch"] = values

    return BatchReport()


def global_rate(meter, skip: int) -> dict[str, float]:
    """Trained tokens per second of all processes together: each one's ``q.StepMeter`` counts the
    tokens of its own share, so the counts are summed over the processes and divided by the longest
    process's time, over the steps after the first ``skip``. Every process must call it."""
    steps = meter.steps[skip:]
    trained, tokens = sum(s["trained"] for s in steps), sum(s["tokens"] for s in steps)
    seconds = sum(s["s"] for s in steps)
    trained, tokens = _all_reduce([trained, tokens], "SUM")
    (seconds,) = _all_reduce([seconds], "MAX")
    return {"steps": len(steps), "seconds": seconds, "trained_tokens": trained,
            "trained_tokens_per_s": trained / seconds if seconds else 0.0,
            "tokens_per_s": tokens / seconds if seconds else 0.0}


# -- running the cells ---------------------------------------------------------------------------

def _execute(cell: Cell, ns: dict, filename: str, show: bool) -> None:
    """Run one cell in ``ns``, printing its last expression's value (when ``show``), as Jupyter does."""
    source = cell.source + "\n"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # tracebacks show lines
    tree = ast.parse(source, filename)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, filename, "exec"), ns)
    if last is not None:
        value = eval(compile(ast.Expression(last.value), filename, "eval"), ns)
        if show and value is not None:
            print(repr(value))


def _trainer_hooks(ns: dict, seen: set[int], report: dict) -> None:
    """Give each new ``trainer`` of the notebook the checkpoint barrier and the batch report."""
    trainer = ns.get("trainer")
    if trainer is None or id(trainer) in seen or not hasattr(trainer, "add_callback"):
        return
    seen.add(id(trainer))
    rewrap_before_each_train(trainer)
    trainer.add_callback(checkpoint_barrier())
    trainer.add_callback(batch_report(report))


def _prepare_inputs(cfg, rank: int) -> None:
    """Rank 0 checks the machine and builds the tiny model if it is missing, before the others load
    it (two processes building it at once would replace it under each other)."""
    if rank == 0:
        from .model import model_source

        model_source(cfg)
    barrier()


def _logged(log_history: list[dict], key: str) -> list[list[float]]:
    return [[entry["step"], float(entry[key])] for entry in log_history if key in entry and "step" in entry]


def _processes(n: int) -> str:
    return f"{n} process{'es' if n > 1 else ''}"


def _run_cells(cells: list[Cell], ns: dict, notebook: Path, rank: int, report: dict) -> None:
    """Execute ``cells`` in order in ``ns``, attaching the runner's hooks to each new trainer; a failing
    cell is named with its number and traceback and raises ``CellError``."""
    seen: set[int] = set()
    for cell in cells:
        begun = time.perf_counter()
        try:
            _execute(cell, ns, f"<{notebook.name} cell {cell.number}>", show=rank == 0)
        except Exception as exc:
            print(f"[rank {rank}] {notebook.name} failed in cell {cell.number} (`{cell.first_line}`):\n"
                  f"{traceback.format_exc()}", file=sys.stderr, flush=True)
            raise CellError(f"cell {cell.number} of {notebook.name} failed") from exc
        report.setdefault("cells", []).append([cell.number, round(time.perf_counter() - begun, 2)])
        _trainer_hooks(ns, seen, report)


def _configure(processes: int, rank: int, keep_rows: bool):
    """Set this process's ``QWEN3LAB_<FIELD>`` overrides (its share of the batch; no SwanLab off rank 0);
    returns the config as it was before them and as the cells will read it."""
    source_cfg = get_config()
    overrides = batch_overrides(source_cfg, processes, keep_rows)
    if rank:
        overrides[f"{FIELD_ENV_PREFIX}REPORT_TO"] = '"none"'  # TOML: a bare none is None
    os.environ.update(overrides)
    os.environ.setdefault("MPLBACKEND", "Agg")
    return source_cfg, get_config()


def run(notebook: Path, *, keep_rows: bool = False, summary: Path | None = None) -> dict[str, Any]:
    """Execute ``notebook``'s cells in this process of a data-parallel run (or alone); returns, on
    rank 0, what ``ddp_summary.json`` holds: the batch, the curves, the rates. Part of make train-ddp."""
    import nbformat

    rank, _, processes = world()
    started = time.perf_counter()
    cells = notebook_cells(nbformat.read(notebook, as_version=4))
    source_cfg, cfg = _configure(processes, rank, keep_rows)
    from .machine import bootstrap

    bootstrap(cfg)  # what the notebook's first cell (q.setup()) does, before this module imports transformers
    backend = init_distributed()
    if rank == 0:
        shared = sum(c.every_rank for c in cells)
        print(f"data parallel: {_processes(processes)} ({backend or 'no process group'}), {len(cells)} cells of "
              f"{notebook.name}: {shared} in every process, the last {len(cells) - shared} on rank 0 alone")
        rows = source_cfg.per_device_train_batch_size * source_cfg.gradient_accumulation_steps
        planned = effective_batch(cfg.per_device_train_batch_size, processes, cfg.gradient_accumulation_steps)
        print(f"planned batch: {planned} (the recipe's: {rows} rows per step{', kept' if keep_rows else ''})")
    _prepare_inputs(cfg, rank)

    ns: dict[str, Any] = {"__name__": "__main__"}
    report: dict[str, Any] = {}
    here = Path.cwd()
    os.chdir(notebook.parent)  # as a kernel started by the runner or JupyterLab
    try:
        _run_cells([c for c in cells if c.every_rank], ns, notebook, rank, report)
        meter = ns.get("meter")
        if meter is not None and getattr(meter, "steps", None):  # a collective: every process
            report["rate"] = global_rate(meter, skip=min(3, len(meter.steps) - 1))
            if rank == 0:
                print(f"all {_processes(processes)}: {report['rate']['trained_tokens_per_s']:,.0f} trained tokens/s "
                      "after the first 3 steps")
        if rank == 0:
            _run_cells([c for c in cells if not c.every_rank], ns, notebook, rank, report)
    finally:
        os.chdir(here)
    result = {}
    if rank == 0:
        result = _summary(ns, cfg, report, processes, backend, keep_rows, time.perf_counter() - started)
        path = summary or stage_dir("run") / "ddp_summary.json"
        atomic_write_text(path, json.dumps(result, indent=2) + "\n")
        print(f"summary: {path}")
    barrier()  # the others wait here while rank 0 saves
    return result


def _summary(ns: dict, cfg, report: dict, processes: int, backend: str | None, keep_rows: bool,
             seconds: float) -> dict[str, Any]:
    import torch

    trainer, meter = ns.get("trainer"), ns.get("meter")
    per_rank = meter.summary(skip=min(3, len(meter.steps) - 1)) if meter is not None and meter.steps else {}
    return {"processes": processes, "backend": backend, "keep_rows": keep_rows,
            "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
            **report.get("batch", {}), "max_steps": cfg.max_steps, "profile": cfg.profile,
            "losses": _logged(trainer.state.log_history, "loss") if trainer is not None else [],
            "grad_norms": _logged(trainer.state.log_history, "grad_norm") if trainer is not None else [],
            "all_processes": report.get("rate", {}), "rank_0": per_rank, "wall_s": round(seconds, 1),
            "adapter": str(stage_dir("adapter")), "cell_seconds": report.get("cells", []),
            "versions": library_versions(),
            "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="train_ddp.py", description="Notebook 05's training, data-parallel: run under "
        "`torchrun --standalone --nproc_per_node N tools/train_ddp.py` or `accelerate launch --num_processes N "
        "tools/train_ddp.py` (make train-ddp NPROC=N). The config comes as for the notebooks: QWEN3LAB_PROFILE, "
        "QWEN3LAB_CONFIG, QWEN3LAB_<FIELD>, QWEN3LAB_HOME.")
    root = project_root() or Path.cwd()
    cli.add_argument("--notebook", type=Path, default=root / "notebooks" / NOTEBOOK,
                     help=f"the training notebook whose cells run (default: notebooks/{NOTEBOOK})")
    cli.add_argument("--keep-rows", action="store_true",
                     help="keep the recipe's rows per optimizer step (8 for 2 x 4): divide the accumulation by the "
                          "number of processes; default: every process runs the recipe, N times the rows per step")
    cli.add_argument("--summary", type=Path, metavar="FILE",
                     help="where rank 0 writes the run's summary JSON "
                          "(default: <artifacts>/runs/lora/ddp_summary.json)")
    cli.add_argument("--print-all-ranks", action="store_true",
                     help="let every process print (default: only rank 0's standard output is shown)")
    return cli


def main(argv: list[str] | None = None) -> int:
    """``tools/train_ddp.py``: 0 when every cell passed in this process."""
    args = parser().parse_args(argv)
    try:
        run(args.notebook.resolve(), keep_rows=args.keep_rows,
            summary=args.summary.resolve() if args.summary else None)
    except CellError:  # its traceback is printed already
        return 1
    except Exception as exc:  # a bad option, config or notebook: before any cell ran
        print(f"train_ddp.py (rank {world()[0]}): error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
    return 0


__all__ = ["Cell", "CellError", "NotebookShapeError", "batch_overrides", "checkpoint_barrier", "effective_batch",
           "global_rate", "notebook_cells", "plain_cpu_device", "rewrap_before_each_train", "run", "split_rows"]
