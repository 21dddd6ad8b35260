"""Regenerate the bundled data fixtures from ``qwen3lab/data/synth.py``, byte for byte.

    python tools/make_fixtures.py          # rewrite qwen3lab/data/fixtures/*.jsonl
    python tools/make_fixtures.py --check  # exit 1 if a file on disk differs from a fresh run

Each file is one JSON object per line (``ensure_ascii=False``, keys in the Hub column order,
``\\n`` line endings, UTF-8), written through a temporary sibling and ``os.replace``, so a
crash never leaves half a file. ``tests/test_synth.py`` compares the files on disk with a
fresh run of ``render()``, so a change to the generator that is not followed by this script
fails the tests instead of silently drifting.

synth.py is pure Python; it is loaded from its path so that this script does not pay for the
package's start-up (``import qwen3lab`` prepares the training backend).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYNTH = ROOT / "qwen3lab" / "data" / "synth.py"
FIXTURES = ROOT / "qwen3lab" / "data" / "fixtures"
SEED = 3407
#: file name -> (generator function name in synth.py, number of rows); always scale="small"
SPECS = {
    "openmath_cot.jsonl": ("synth_reasoning", 240),
    "finetome.jsonl": ("synth_chat", 480),
}
MAX_BYTES = 1_000_000


def load_synth():
    """The ``qwen3lab.data.synth`` module, loaded from its file."""
    spec = importlib.util.spec_from_file_location("qwen3lab_synth", SYNTH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def to_jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def render(name: str, synth=None) -> str:
    """The exact text of fixture ``name`` as the generator produces it now."""
    synth = synth or load_synth()
    func, n = SPECS[name]
    return to_jsonl(getattr(synth, func)(n, seed=SEED, scale="small"))


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a data file is world-readable
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the files on disk, write nothing")
    args = parser.parse_args(argv)
    synth = load_synth()
    stale = []
    for name in SPECS:
        text = render(name, synth)
        size = len(text.encode("utf-8"))
        if size > MAX_BYTES:
            raise SystemExit(f"{name} would be {size:,} bytes, over the {MAX_BYTES:,}-byte limit for a bundled fixture")
        path = FIXTURES / name
        if args.check:
            same = path.exists() and path.read_bytes() == text.encode("utf-8")
            print(f"{'ok   ' if same else 'STALE'} {path.relative_to(ROOT)}")
            if not same:
                stale.append(name)
        else:
            write_atomic(path, text)
            print(f"wrote {path.relative_to(ROOT)}: {text.count(chr(10))} rows, {size:,} bytes")
    if stale:
        print("regenerate with: python tools/make_fixtures.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
