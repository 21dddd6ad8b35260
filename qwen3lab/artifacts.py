"""The artifacts root, stage paths, manifests and atomic writes.

Every stage writes under one root (``./artifacts`` of the project, or ``$QWEN3LAB_HOME``), next
to a ``manifest.json`` that says what it is, what it came from, the config that made it and the
library versions. A stage that finds its input missing names the notebook to run first.
Writes go to a temporary sibling folder that is renamed into place only when complete, so an
interrupted run never leaves a half-written artifact where a later stage would read it.

Introduced in 00_setup.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import importlib.metadata
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HOME_ENV = "QWEN3LAB_HOME"
MANIFEST = "manifest.json"

#: stage -> (path under the root, the notebook that writes it)
STAGES: dict[str, tuple[str, str]] = {
    "tiny_model": ("models/tiny-qwen3", "00_setup"),
    "clean": ("data/clean", "03_dataset_cleaning"),
    "mixed": ("data/mixed", "04_sampling"),
    "run": ("runs/lora", "05_lora_training"),
    "adapter": ("adapter", "05_lora_training"),
    "merged": ("merged", "06_saving_and_chat"),
    "eval": ("eval", "07_evaluation"),
    "notebooks": ("notebooks", "make run"),
    "handout": ("handout", "make handout"),
    "swanlog": ("swanlog", "05_lora_training"),
}

_VERSIONED = ("qwen3lab", "torch", "transformers", "peft", "trl", "datasets", "accelerate",
              "bitsandbytes", "unsloth", "unsloth_zoo", "swanlab")


class MissingArtifactError(FileNotFoundError):
    """An earlier stage's output is not on disk."""


def project_root() -> Path | None:
    """The checkout this package lives in (editable install), or None when installed elsewhere."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").is_file() and (here / "notebooks").is_dir() else None


def artifacts_root() -> Path:
    """``$QWEN3LAB_HOME``, else ``<project>/artifacts``, else ``./artifacts``. Introduced in 00_setup."""
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser().resolve()
    root = project_root()
    return (root / "artifacts") if root else (Path.cwd() / "artifacts").resolve()


def stage_dir(stage: str) -> Path:
    """Where ``stage`` lives under the artifacts root (not created)."""
    if stage not in STAGES:
        raise KeyError(f"unknown stage {stage!r}; known stages: {sorted(STAGES)}")
    return artifacts_root() / STAGES[stage][0]


def require(stage: str) -> Path:
    """The stage's folder, or a ``MissingArtifactError`` naming the notebook that writes it."""
    path = stage_dir(stage)
    if not (path / MANIFEST).is_file():
        notebook = STAGES[stage][1]
        raise MissingArtifactError(
            f"{path} is missing (or has no {MANIFEST}): run notebooks/{notebook}.ipynb first "
            f"(or `make run`), with the same {HOME_ENV} and profile."
        )
    return path


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries that decide the results."""
    out: dict[str, str | None] = {}
    for name in _VERSIONED:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = _source_version() if name == "qwen3lab" else None
    return out


def _source_version() -> str | None:
    """qwen3lab's version when it runs from a checkout that is not pip-installed (PYTHONPATH)."""
    text = (Path(__file__).parent / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"', text, re.M)
    return f"{match.group(1)}+source" if match else None


@contextlib.contextmanager
def atomic_dir(final: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``final``; on success it replaces ``final``.

    On an exception (or a killed process) ``final`` keeps its previous content and the temporary
    folder is removed (or left as an ignorable ``.tmp-*`` sibling if the process died).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        yield tmp
        old = None
        if final.exists():
            old = final.parent / f".{final.name}.old-{os.getpid()}"
            os.replace(final, old)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write a file through a temporary sibling and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_manifest(out_dir: str | Path, *, what: str, cfg: Any, inputs: dict[str, Any] | None = None,
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``manifest.json`` (what, inputs, config, versions, time) into ``out_dir``."""
    manifest = {
        "what": what,
        "inputs": inputs or {},
        "config": cfg.to_dict() if hasattr(cfg, "to_dict") else cfg,
        "versions": library_versions(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **(extra or {}),
    }
    atomic_write_text(Path(out_dir) / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


def read_manifest(stage_or_dir: str | Path) -> dict[str, Any]:
    """The manifest of a stage (by name) or of a folder."""
    path = require(stage_or_dir) if isinstance(stage_or_dir, str) and stage_or_dir in STAGES else Path(stage_or_dir)
    return json.loads((path / MANIFEST).read_text())


__all__ = ["MissingArtifactError", "artifacts_root", "atomic_dir", "atomic_write_text", "library_versions",
           "read_manifest", "require", "stage_dir", "write_manifest"]
