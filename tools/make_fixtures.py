"""Check the bundled fixture rows against their contract, or write fresh ones.

    python tools/make_fixtures.py --check      # exit 1, naming each broken row, if a committed file breaks the contract
    python tools/make_fixtures.py --out DIR    # write fresh rows under DIR (same layout as qwen3lab/data/hub)
    python tools/make_fixtures.py              # overwrite the committed rows with fresh ones

The committed files under ``qwen3lab/data/hub/`` (``FILES``) are what the tiny profile's
``load_dataset`` reads, and they are the contract: notebooks and tests rely on what ``check``
verifies, not on a generator reproducing them byte for byte. Fresh rows come from
tools/synth.py (``scale="fixture"``, seed 3407) and meet the same contract; after overwriting,
refresh the notebooks' stored outputs (their row counts and lengths are printed there).

The contract, per file: the row count; one JSON object per line (``ensure_ascii=False``, keys in
the Hub column order, UTF-8, ``\\n`` line endings) and under 1 MB; every row in the real schema
(``reasoning_problems`` / ``chat_problems``: each boxed answer equals ``expected_answer``, each
conversation alternates human/gpt after an optional system turn); every categorical value seen
(problem types and sources, the nine FineTome sources, system turns); about half the rows in
Chinese; every row shorter than the tiny profile's 1,024 tokens (notebook 03 keeps all rows);
and some reasoning rows longer than the 300 tokens where notebook 03's length-policy demo cuts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synth  # noqa: E402  (tools/synth.py)

ROOT = Path(__file__).resolve().parent.parent
HUB = ROOT / "qwen3lab" / "data" / "hub"
#: kind -> (file under HUB, number of rows)
FILES = {
    "reasoning": (Path("unsloth/OpenMathReasoning-mini/data/cot-00000-of-00001.jsonl"), 240),
    "chat": (Path("mlabonne/FineTome-100k/data/train-00000-of-00001.jsonl"), 480),
}
SEED = 3407
MAX_BYTES = 1_000_000
MAX_TOKENS = 1024  # the tiny profile's max_seq_length
DEMO_TOKENS = 300  # notebook 03 cuts at this length to show the truncate policy
CJK = re.compile(r"[\u4e00-\u9fff]")
AFTER_BOX = re.compile(r"\s*(\$|\\\]|\\\))?\s*[.。]?\s*")


def last_boxed(text: str) -> tuple[str, str] | None:
    """(content of the last ``\\boxed{...}``, the text after its closing brace), braces balanced."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    depth = 1
    i = start = start + len("\\boxed{")
    while depth and i < len(text):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return (text[start:i - 1], text[i:]) if depth == 0 else None


def reasoning_problems(row: dict) -> list[str]:
    """What is wrong with one OpenMathReasoning-mini row (empty: nothing)."""
    if list(row) != list(synth.REASONING_COLUMNS):
        return [f"columns {list(row)}, expected {list(synth.REASONING_COLUMNS)}"]
    out = [f"{k} is not a non-empty string" for k, v in row.items() if type(v) is not str or not v]
    if out:
        return out
    sol = row["generated_solution"]
    if not sol.startswith("<think>\n") or sol.count("<think>") != 1 or sol.count("\n</think>\n\n") != 1 or sol.count("</think>") != 1:
        return ["generated_solution is not '<think>\\n...\\n</think>\\n\\n' followed by the solution"]
    think, final = sol[len("<think>\n"):].split("\n</think>\n\n")
    if not think.strip() or not final.strip():
        out.append("the think block or the final solution is empty")
    if "\\boxed{" in think:
        out.append("a \\boxed{} inside the think block")
    boxed = last_boxed(final)
    if boxed is None or boxed[0] != row["expected_answer"]:
        out.append(f"boxed answer {boxed and boxed[0]!r} != expected_answer {row['expected_answer']!r}")
    elif not AFTER_BOX.fullmatch(boxed[1]):
        out.append(f"text after the boxed answer: {boxed[1][:40]!r}")
    for key, allowed in (("problem_type", synth.PROBLEM_TYPES), ("problem_source", synth.PROBLEM_SOURCES),
                         ("generation_model", synth.GENERATION_MODELS), ("inference_mode", ("cot",))):
        if row[key] not in allowed:
            out.append(f"{key} {row[key]!r} is not one of {sorted(allowed)}")
    rate = row["pass_rate_72b_tir"]
    if row["problem_type"] != "has_answer_extracted":
        if rate != "n/a":
            out.append(f"pass_rate_72b_tir {rate!r} should be 'n/a' without an extracted answer")
    elif not re.fullmatch(r"[01]\.\d+", rate) or not 0 <= float(rate) <= 1 or not (float(rate) * 32).is_integer():
        out.append(f"pass_rate_72b_tir {rate!r} is not a multiple of 1/32 in [0, 1]")
    return out


def chat_problems(row: dict) -> list[str]:
    """What is wrong with one FineTome-100k row (empty: nothing)."""
    if list(row) != list(synth.CHAT_COLUMNS):
        return [f"columns {list(row)}, expected {list(synth.CHAT_COLUMNS)}"]
    out = []
    conv = row["conversations"]
    if type(conv) is not list or not conv or not all(type(t) is dict and list(t) == ["from", "value"] for t in conv):
        return ["conversations is not a non-empty list of {'from', 'value'} turns"]
    if not all(type(t["from"]) is str and type(t["value"]) is str and t["value"].strip() for t in conv):
        out.append("a turn's from/value is not a string, or its value is empty")
    roles = [t["from"] for t in conv]
    body = roles[1:] if roles[0] == "system" else roles
    if not body or len(body) % 2 or body != ["human", "gpt"] * (len(body) // 2) or len(body) > 8:
        out.append(f"roles {roles}: expected an optional system turn, then 1-4 human/gpt exchanges")
    if row["source"] not in synth.SOURCES:
        out.append(f"source {row['source']!r} is not a FineTome source")
    score = row["score"]
    if type(score) is not float or not math.isfinite(score) or not synth.SCORE_RANGE[0] <= score <= synth.SCORE_RANGE[1]:
        out.append(f"score {score!r} is not a float in {synth.SCORE_RANGE}")
    return out


def first_text(kind: str, row: dict) -> str:
    return row["problem"] if kind == "reasoning" else next(t["value"] for t in row["conversations"] if t["from"] == "human")


def set_problems(kind: str, rows: list[dict], lengths: list[int]) -> list[str]:
    """What the rows of one fixture file miss together: categories, languages, token lengths."""
    out = []
    if kind == "reasoning":
        for key, allowed in (("problem_type", synth.PROBLEM_TYPES), ("problem_source", synth.PROBLEM_SOURCES)):
            if missing := set(allowed) - {r[key] for r in rows}:
                out.append(f"no row with {key} in {sorted(missing)}")
        if sum(n > DEMO_TOKENS for n in lengths) < 0.1 * len(rows):
            out.append(f"fewer than 10% of the rows are longer than {DEMO_TOKENS} tokens (notebook 03's length-policy demo)")
    else:
        if missing := set(synth.SOURCES) - {r["source"] for r in rows}:
            out.append(f"no row from the sources {sorted(missing)}")
        if not any(r["conversations"][0]["from"] == "system" for r in rows):
            out.append("no conversation opens with a system turn")
        if not any(len(r["conversations"]) > 3 for r in rows):
            out.append("no multi-turn conversation")
    zh = sum(bool(CJK.search(first_text(kind, r))) for r in rows) / max(len(rows), 1)
    if not 0.35 < zh < 0.65:
        out.append(f"{zh:.0%} of the rows are in Chinese, expected about half")
    out += [f"row {i}: {n} tokens, not in [20, {MAX_TOKENS})" for i, n in enumerate(lengths) if not 20 <= n < MAX_TOKENS]
    return out


def check_file(kind: str, path: Path) -> list[str]:
    """Every way the fixture file ``path`` of ``kind`` breaks the contract (empty: it keeps it)."""
    if not path.is_file():
        return [f"{path}: missing"]
    data = path.read_bytes()
    if len(data) > MAX_BYTES:
        return [f"{path}: {len(data):,} bytes, over {MAX_BYTES:,}"]
    if not data.endswith(b"\n") or b"\r" in data:
        return [f"{path}: not '\\n'-terminated lines"]
    try:
        rows = [json.loads(line) for line in data.decode("utf-8").splitlines()]
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        return [f"{path}: not UTF-8 JSON lines ({err})"]
    n = FILES[kind][1]
    out = [] if len(rows) == n else [f"{len(rows)} rows, expected {n}"]
    row_problems = reasoning_problems if kind == "reasoning" else chat_problems
    out += [f"row {i}: {p}" for i, row in enumerate(rows) for p in row_problems(row)]
    if not out:
        out = set_problems(kind, rows, synth.token_lengths(rows))
    return [f"{path.name}: {p}" for p in out]


def check(hub: Path = HUB) -> list[str]:
    """Every contract problem of the fixture files under ``hub``."""
    return [p for kind, (rel, _) in FILES.items() for p in check_file(kind, hub / rel)]


def write_atomic(path: Path, text: str) -> None:
    """Write through a temporary sibling and ``os.replace``, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a data file is world-readable
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write(hub: Path = HUB) -> None:
    """Fresh fixture rows from tools/synth.py into ``hub`` (the README.md files are not touched)."""
    for kind, (rel, n) in FILES.items():
        gen = synth.synth_reasoning if kind == "reasoning" else synth.synth_chat
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in gen(n, seed=SEED, scale="fixture"))
        write_atomic(hub / rel, text)
        print(f"wrote {hub / rel}: {n} rows, {len(text.encode()):,} bytes")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="check the files, write nothing")
    parser.add_argument("--out", type=Path, default=HUB, help=f"the hub folder (default {HUB.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    if not args.check:
        write(args.out)
    problems = check(args.out)
    print("\n".join(problems) or f"ok: {', '.join(str(rel) for rel, _ in FILES.values())} keep the contract")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
