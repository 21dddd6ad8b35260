"""The artifacts root, stage paths, manifests and safe writes.

Every stage writes under one root (``<project>/artifacts`` or ``$QWEN3LAB_HOME``), beside a
``manifest.json`` (what, inputs, config, library versions). Writes go to a temporary sibling that
is renamed into place when complete, and never replace what qwen3lab did not write; what an
interrupted write leaves is cleaned up or put back on the next write or ``require`` of the stage.
A stage's files are checked whole when it is read, so a damaged file is named with its notebook.

Introduced in 00_setup.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import importlib.metadata
import itertools
import json
import os
import re
import shutil
import stat
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
    "gguf": ("gguf", "08_export"),
    "grpo": ("grpo", "09_grpo"),
    "grpo_run": ("runs/grpo", "09_grpo"),
    "notebooks": ("notebooks", "make run"),
    "handout": ("handout", "make handout"),
    "swanlog": ("swanlog", "05_lora_training"),
}

_VERSIONED = ("qwen3lab", "torch", "transformers", "peft", "trl", "datasets", "accelerate",
              "bitsandbytes", "unsloth", "unsloth_zoo", "swanlab")
#: The keys every manifest ``write_manifest`` writes: a ``manifest.json`` without them is not ours.
MANIFEST_KEYS = frozenset({"what", "inputs", "config", "versions", "created"})


class MissingArtifactError(FileNotFoundError):
    """An earlier stage's output is not on disk."""


class CorruptArtifactError(ValueError):
    """A stage's file that cannot be read as what it should be (cut short, or changed by hand)."""


class UnownedTargetError(FileExistsError):
    """A write would replace a file or folder that qwen3lab did not create."""


def project_root() -> Path | None:
    """The checkout this package lives in (editable install), or None when installed elsewhere."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").is_file() and (here / "notebooks").is_dir() else None


def artifacts_root() -> Path:
    """``$QWEN3LAB_HOME``, else ``<project>/artifacts``, else ``./artifacts``. Introduced in 00_setup."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser().resolve()
    root = project_root()
    return (root / "artifacts") if root else (Path.cwd() / "artifacts").resolve()


def stage_dir(stage: str) -> Path:
    """Where ``stage`` lives under the artifacts root (not created)."""
    if stage not in STAGES:
        raise KeyError(f"unknown stage {stage!r}; known stages: {sorted(STAGES)}")
    return artifacts_root() / STAGES[stage][0]


def _writer(path: Path) -> str:
    """Who rewrites ``path``: ``notebooks/NN_name.ipynb`` (or ``make run``) of the stage it is in."""
    path, root = Path(os.path.abspath(path)), artifacts_root()
    for rel, notebook in STAGES.values():
        if path == root / rel or (root / rel) in path.parents:
            return f"`{notebook}`" if notebook.startswith("make ") else f"notebooks/{notebook}.ipynb"
    return "the notebook that wrote it"


def _rerun(path: Path, cut: bool = False) -> str:
    """The fix for a damaged ``path`` (``cut``: first the likely cause)."""
    cause = "it was cut short or changed after it was written; " if cut else ""
    return f"{cause}run {_writer(path)} again to rewrite it (with the same {HOME_ENV} and profile)"


def require(stage: str) -> Path:
    """The stage's folder, checked whole (``verify``) and with its stored paths re-pointed at this
    root (``relocate``), after an interrupted write of it is put back; else a ``MissingArtifactError``
    naming the notebook that writes it."""
    path = stage_dir(stage)
    _recover(path)
    if not (path / MANIFEST).is_file():
        raise MissingArtifactError(
            f"{path} is missing (or has no {MANIFEST}): run notebooks/{STAGES[stage][1]}.ipynb first "
            f"(or `make run`), with the same {HOME_ENV} and profile."
        )
    verify(path)
    relocate(path)
    return path


def _read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptArtifactError(f"{file} is not valid JSON ({type(exc).__name__}: {exc}): "
                                   f"{_rerun(file, cut=True)}") from None


def _check_safetensors(file: Path) -> None:
    """The file is as long as its header says: 8 bytes of header size, the JSON header, the tensors."""
    size = file.stat().st_size
    try:
        with open(file, "rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            header = json.loads(fh.read(n)) if 0 < n <= size - 8 else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        header = None
    if not isinstance(header, dict):
        raise CorruptArtifactError(f"{file} is not a safetensors file (its header cannot be read; {size} "
                                   f"bytes): {_rerun(file)}")
    try:
        end = max((int(t["data_offsets"][1]) for k, t in header.items() if k != "__metadata__"), default=0)
    except (TypeError, KeyError, IndexError, ValueError):
        raise CorruptArtifactError(f"{file} is not a safetensors file (its header does not list tensors with "
                                   f"data_offsets): {_rerun(file)}") from None
    if 8 + n + end != size:
        raise CorruptArtifactError(f"{file} has {size:,} bytes where its header says {8 + n + end:,}: "
                                   f"{_rerun(file, cut=True)}")


def verify(folder: str | Path) -> None:
    """Check that a stage's files are whole: its manifest and every JSON file parse, every
    safetensors file is as long as its header says, every data file of a saved data set reads.
    Cheap (headers and memory maps), so every ``require`` runs it. Introduced in 00_setup."""
    folder = Path(folder)
    if not isinstance(_read_json(folder / MANIFEST), dict):
        raise CorruptArtifactError(f"{folder / MANIFEST} is not a JSON object: {_rerun(folder)}")
    for file in sorted(folder.rglob("*")):
        if not file.is_file() or any(p.startswith(".") for p in file.relative_to(folder).parts):
            continue
        if file.suffix == ".json":
            _read_json(file)
        elif file.suffix == ".safetensors":
            _check_safetensors(file)
        elif file.suffix == ".arrow" and file.name.startswith("data-"):  # not datasets' cache-*.arrow
            import pyarrow as pa

            try:
                with pa.memory_map(str(file)) as source:
                    pa.ipc.open_stream(source).read_all()
            except (pa.ArrowInvalid, OSError) as exc:
                raise CorruptArtifactError(f"{file} is not a whole Arrow file ({exc}): "
                                           f"{_rerun(file, cut=True)}") from None
        if file.name == "state.json" and (file.parent / "dataset_info.json").is_file():  # save_to_disk's
            missing = [f["filename"] for f in _read_json(file).get("_data_files", [])
                       if isinstance(f, dict) and not (file.parent / f["filename"]).is_file()]
            if missing:
                raise CorruptArtifactError(f"{file.parent} lacks {', '.join(missing)}, which its state.json "
                                           f"lists: a file of the saved data set was deleted; {_rerun(file)}")


def _under_root(stored: str) -> Path | None:
    """Where an absolute path that some artifacts root once held is under the current root."""
    parts = Path(stored).parts
    for rel, _ in STAGES.values():
        rel_parts = Path(rel).parts
        for i in range(len(parts) - len(rel_parts), 0, -1):
            if parts[i:i + len(rel_parts)] == rel_parts:
                return artifacts_root().joinpath(*parts[i:])
    return None


def relocate(folder: str | Path) -> list[str]:
    """Re-point the base model path of PEFT's ``adapter_config.json`` files after the artifacts root
    moved or was copied: PEFT stores it absolute (the tiny model's ``<root>/models/tiny-qwen3``), and
    loading from a gone path fails with ``OSError: Repo id must be in the form ...``. A stage path of
    another root is rewritten to the same place under this root, where that exists (a copied root
    reads its own copy). Returns one line per change (also printed). Introduced in 06_saving_and_chat."""
    key, changes = "base_model_name_or_path", []
    for file in sorted(Path(folder).rglob("adapter_config.json")):
        data = _read_json(file)
        stored = data.get(key)
        new = _under_root(stored) if isinstance(stored, str) and os.path.isabs(stored) else None
        if new is None or os.path.realpath(stored) == os.path.realpath(new):
            continue  # not a stage path, or already this root's
        if os.path.exists(new):
            changes.append(f"{file}: {key} {stored} -> {new} (the artifacts root was moved or copied)")
            data[key] = str(new)
            atomic_write_text(file, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        elif not os.path.exists(stored):
            raise MissingArtifactError(f"{file} names {key}={stored!r}, which is not on this machine, and "
                                       f"its place under this artifacts root, {new}, is empty too: run "
                                       f"{_writer(new)} first")
    for line in changes:
        print(line)
    return changes


def _open_to_umask(folder: Path) -> None:
    """Give everything in ``folder`` at least the permissions the umask allows: some writers
    (safetensors) create files for their owner only, which other users of a shared machine need."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            mask = int(next(line for line in fh if line.startswith("Umask:")).split()[1], 8)
    except (OSError, ValueError, StopIteration):  # os.umask reads it only by setting it
        mask = os.umask(0o022)
        os.umask(mask)
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            mode = stat.S_IMODE(os.stat(path).st_mode)
            wanted = mode | ((0o777 if path.is_dir() else 0o666) & ~mask)
            if wanted != mode:
                os.chmod(path, wanted)


_ACTIVE: set[str] = set()  # this process's temporary siblings that are being written now
_SIBLING = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)?")


def _sibling(final: Path, kind: str) -> Path:
    """A free name ``.<name>.<kind>-<pid>-<n>`` beside ``final``."""
    names = (final.parent / f".{final.name}.{kind}-{os.getpid()}-{n}" for n in itertools.count())
    return next(path for path in names if not os.path.lexists(path))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    return True


def _started_after(pid: int, entry: Path) -> bool:
    """Whether process ``pid`` started after ``entry`` was last renamed or changed (its ctime): then
    the pid was reused, and the process that wrote ``entry`` is gone. False where /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            ticks = int(fh.read().rsplit(")", 1)[1].split()[19])  # field 22, starttime, in clock ticks
        with open("/proc/stat", encoding="ascii") as fh:
            boot = next(int(line.split()[1]) for line in fh if line.startswith("btime "))
        started = boot + ticks / os.sysconf("SC_CLK_TCK")
        return started > entry.lstat().st_ctime + 1.0  # btime is whole seconds
    except (OSError, ValueError, IndexError, StopIteration):
        return False


def _recover(final: Path) -> None:
    """Put back a stage whose replacement was interrupted between its two renames, and remove what
    interrupted writes of it (whose process is gone) left behind."""
    leftovers = []
    for entry in final.parent.iterdir() if final.parent.is_dir() else ():
        m = _SIBLING.match(entry.name)
        if m and m["name"] == final.name and str(entry) not in _ACTIVE:
            pid = int(m["pid"]) if m["pid"] else None
            if pid is None or pid == os.getpid() or not _alive(pid) or _started_after(pid, entry):
                leftovers.append((m["kind"], entry))
    for kind, path in sorted(leftovers, key=lambda kp: kp[0] != "old"):
        if kind == "old" and not os.path.lexists(final):
            os.replace(path, final)
            print(f"{final}: put back from {path.name}, left by a write that was interrupted")
        elif path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def is_stage(path: str | Path) -> bool:
    """Whether ``path`` is a folder qwen3lab wrote: its ``manifest.json`` is a JSON object with the
    keys ``write_manifest`` writes. Only such a folder (or an empty one) is replaced by ``atomic_dir``.
    Introduced in 00_setup."""
    try:
        manifest = json.loads((Path(path) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing, unreadable, not JSON, not UTF-8
        return False
    return isinstance(manifest, dict) and MANIFEST_KEYS <= manifest.keys()


def _check_target(final: Path, replace_unowned: bool) -> None:
    if os.path.lexists(final) and not final.is_dir():
        raise UnownedTargetError(f"{final} is a file (or a link), not a stage folder: qwen3lab will not "
                                 "replace it. Move it away, or write the stage elsewhere "
                                 f"(another {HOME_ENV}).")
    if final.is_dir() and not is_stage(final) and any(final.iterdir()) and not replace_unowned:
        raise UnownedTargetError(
            f"{final} holds files but no {MANIFEST} of qwen3lab's, so qwen3lab did not write it and will not "
            f"replace it (its files would be lost). Move them away, choose another {HOME_ENV}, or pass "
            f"replace_unowned=True to replace the folder with everything in it.")


@contextlib.contextmanager
def atomic_dir(final: str | Path, *, replace_unowned: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``final``; on success it replaces ``final``.

    On an exception, a killed process or a failed swap, ``final`` keeps its previous content (what
    is left beside it goes on the next write or ``require``). ``final`` may be missing, empty or a
    qwen3lab stage; another folder is refused with an ``UnownedTargetError`` unless
    ``replace_unowned``, and a file always is. A link to a folder is followed.
    """
    final = Path(final)
    if final.is_symlink() and final.is_dir():
        final = final.resolve()
    _check_target(final, replace_unowned)
    final.parent.mkdir(parents=True, exist_ok=True)
    _recover(final)
    tmp, old = _sibling(final, "tmp"), None
    tmp.mkdir()  # with the umask's mode
    _ACTIVE.add(str(tmp))
    try:
        yield tmp
        _check_target(final, replace_unowned)  # nothing of the user's appeared there meanwhile
        _open_to_umask(tmp)
        if os.path.lexists(final):
            old = _sibling(final, "old")
            _ACTIVE.add(str(old))
            os.replace(final, old)
        try:
            os.replace(tmp, final)
        except BaseException:
            if old is not None:
                os.replace(old, final)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        _ACTIVE.difference_update({str(tmp), str(old)})


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write a file through a temporary sibling and ``os.replace`` (the file gets the umask's mode)."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder: cannot write a file in its place")
    path.parent.mkdir(parents=True, exist_ok=True)
    _recover(path)  # temporary files of writes of this path that were killed
    tmp = _sibling(path, "tmp")
    try:
        with open(tmp, "x", encoding="utf-8") as fh:  # mode 0o666 less the umask
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries that decide the results; qwen3lab's from its source
    (``<version>+source``) where it runs from a checkout that is not pip-installed."""
    out: dict[str, str | None] = dict.fromkeys(_VERSIONED)
    for name in _VERSIONED:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[name] = importlib.metadata.version(name)
    if out["qwen3lab"] is None:
        text = (Path(__file__).parent / "__init__.py").read_text(encoding="utf-8")
        match = re.search(r'^__version__ = "([^"]+)"', text, re.M)
        out["qwen3lab"] = f"{match.group(1)}+source" if match else None
    return out


def _portable(value: Any) -> Any:
    """A path under the artifacts root as a path relative to it (the root may move); else unchanged."""
    if isinstance(value, (str, Path)) and os.path.isabs(value):
        with contextlib.suppress(ValueError):
            return Path(os.path.abspath(value)).relative_to(artifacts_root()).as_posix()
    return value


def write_manifest(out_dir: str | Path, *, what: str, cfg: Any, inputs: dict[str, Any] | None = None,
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``manifest.json`` (what, inputs, config, versions, time) into ``out_dir``; inputs under
    the artifacts root are stored relative to it."""
    manifest = {
        "what": what,
        "inputs": {k: _portable(v) for k, v in (inputs or {}).items()},
        "config": cfg.to_dict() if hasattr(cfg, "to_dict") else cfg,
        "versions": library_versions(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **(extra or {}),
    }
    atomic_write_text(Path(out_dir) / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


def read_manifest(stage_or_dir: str | Path) -> dict[str, Any]:
    """The manifest of a stage (by name: ``require``'d first) or of a folder."""
    named = isinstance(stage_or_dir, str) and stage_or_dir in STAGES
    path = require(stage_or_dir) if named else Path(stage_or_dir)
    file = path / MANIFEST
    if not file.is_file():
        raise MissingArtifactError(f"{file} is missing: {_rerun(path)}")
    manifest = _read_json(file)
    if not isinstance(manifest, dict):
        raise CorruptArtifactError(f"{file} is not a JSON object: {_rerun(path)}")
    return manifest


__all__ = ["CorruptArtifactError", "MissingArtifactError", "UnownedTargetError", "artifacts_root",
           "atomic_dir", "atomic_write_text", "is_stage", "library_versions", "read_manifest", "relocate",
           "require", "stage_dir", "verify", "write_manifest"]
