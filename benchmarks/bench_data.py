"""The data pipeline of notebooks 03-04 at full size on the CPU: the notebooks' own calls, timed.

    make bench-data
    python benchmarks/bench_data.py [--scale 0.1] [--tokenizer-sample 2000]

Full-size synthetic data in the real schemas and lengths (``tools/synth.py``: 19,252
OpenMathReasoning-mini rows, 100,000 FineTome rows) is written once as two folders in the Hub
layout (README card + Parquet), like the bundled ones. A fresh process then runs what notebooks
03 and 04 run, in their order: the source tutorial's calls (``load_dataset`` into an empty
cache, ``map(generate_conversation, batched=True)``, Unsloth's ``standardize_sharegpt``,
``tokenizer.apply_chat_template(list(...), tokenize=False)``, pandas ``sample``/``concat``,
``Dataset.from_pandas``, ``shuffle``, ``save_to_disk``) and qwen3lab's checks around them
(``role_counts``, ``validate_conversations``, ``count_tokens``, ``length_stats``,
``apply_length_policy``, ``mix_counts``). It also times ``tokenizer(texts)`` on a sample of rows
against ``count_tokens`` on the same rows (equal counts checked), the measurement behind
``TokenCounter``. It prints numbers only: nothing here is a timed assertion.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
N_REASONING, N_CHAT, SEED = 19_252, 100_000, 3407
MAX_SEQ_LENGTH = 8192  # the full profile's
CHAT_PERCENTAGE = 0.75  # the source tutorial's
SETS = {"reasoning": ("unsloth/OpenMathReasoning-mini", "cot"), "chat": ("mlabonne/FineTome-100k", "train")}


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (datasets' worker processes)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


class Clock:
    """Per-step wall and CPU seconds, printed as they happen (CPU well under wall x cores: a busy machine)."""

    def __init__(self):
        self.steps: dict[str, tuple[str, float, float]] = {}
        self.last, self.cpu_last = time.perf_counter(), cpu_seconds()

    def lap(self, step: str, who: str) -> None:
        now, cpu = time.perf_counter(), cpu_seconds()
        self.steps[step] = (who, round(now - self.last, 2), round(cpu - self.cpu_last, 2))
        print(f"  [{who:<8}] {step:<44} {now - self.last:7.2f} s  (CPU {cpu - self.cpu_last:6.2f} s)", flush=True)
        self.last, self.cpu_last = now, cpu

    def skip(self) -> None:
        """Leave the time since the last lap out (the benchmark's own bookkeeping)."""
        self.last, self.cpu_last = time.perf_counter(), cpu_seconds()


# -- the child: notebooks 03 and 04 ------------------------------------------------------------------


def generate_conversation(examples):  # the source tutorial's
    problems = examples["problem"]
    solutions = examples["generated_solution"]
    conversations = []
    for problem, solution in zip(problems, solutions):
        conversations.append([
            {"role": "user", "content": problem},
            {"role": "assistant", "content": solution},
        ])
    return {"conversations": conversations}


def run(data_dir: str, tokenizer_sample: int) -> dict:
    import numpy as np
    import pandas as pd

    import qwen3lab as q

    q.bootstrap()  # before datasets: as a notebook's first cell
    import datasets
    from datasets import Dataset, load_dataset
    from unsloth.chat_templates import standardize_sharegpt

    datasets.disable_caching()  # every map computes (results go to temporary files)
    datasets.disable_progress_bars()
    tokenizer = q.load_qwen3_tokenizer()
    cache = tempfile.mkdtemp(prefix="bench-data-cache-")
    clock = Clock()

    # 03: load_dataset, conversations, checks
    reasoning_dataset = load_dataset(f"{data_dir}/{SETS['reasoning'][0]}", split="cot", cache_dir=cache)
    non_reasoning_dataset = load_dataset(f"{data_dir}/{SETS['chat'][0]}", split="train", cache_dir=cache)
    clock.lap("load_dataset (Parquet -> Arrow cache)", "source")
    reasoning_dataset = reasoning_dataset.map(generate_conversation, batched=True)
    clock.lap("map(generate_conversation, batched=True)", "source")
    roles_before = q.role_counts(non_reasoning_dataset)
    clock.lap("role_counts (every turn)", "qwen3lab")
    dataset = standardize_sharegpt(non_reasoning_dataset)
    clock.lap("standardize_sharegpt", "source")
    reports = [q.validate_conversations(d) for d in (reasoning_dataset, dataset)]
    reasoning_dataset, dataset = (d.select(r.good_rows()) for d, r in zip((reasoning_dataset, dataset), reports))
    clock.lap("validate_conversations + select", "qwen3lab")
    reasoning_conversations = tokenizer.apply_chat_template(list(reasoning_dataset["conversations"]), tokenize=False)
    non_reasoning_conversations = tokenizer.apply_chat_template(list(dataset["conversations"]), tokenize=False)
    clock.lap("apply_chat_template(list(...), tokenize=False)", "source")
    reasoning_lengths = q.count_tokens(reasoning_conversations, tokenizer)
    chat_lengths = q.count_tokens(non_reasoning_conversations, tokenizer)
    clock.lap("count_tokens (every row)", "qwen3lab")
    stats = q.length_stats({"reasoning": reasoning_lengths, "chat": chat_lengths}, max_seq_length=MAX_SEQ_LENGTH)
    reasoning_conversations, reasoning_lengths = q.apply_length_policy(
        reasoning_conversations, reasoning_lengths, max_seq_length=MAX_SEQ_LENGTH, policy="drop")
    non_reasoning_conversations, chat_lengths = q.apply_length_policy(
        non_reasoning_conversations, chat_lengths, max_seq_length=MAX_SEQ_LENGTH, policy="drop")
    clock.lap("length_stats + apply_length_policy (drop)", "qwen3lab")

    # the measurement behind count_tokens: the tokenizer itself on a sample of both sets
    sample = reasoning_conversations[:tokenizer_sample] + non_reasoning_conversations[:tokenizer_sample]
    clock.skip()
    start = time.perf_counter()
    by_tokenizer = [len(ids) for i in range(0, len(sample), 1000)
                    for ids in tokenizer(sample[i:i + 1000], return_attention_mask=False)["input_ids"]]
    tokenizer_s = time.perf_counter() - start
    start = time.perf_counter()
    q.data.clean._COUNTERS.clear()  # a cold counter: its caches start empty, as in a fresh notebook
    by_counter = q.count_tokens(sample, tokenizer)
    counter_s = time.perf_counter() - start
    clock.skip()

    # 04: the mix, the source's calls with the corrected counts
    source, corrected = q.mix_counts(len(reasoning_conversations), len(non_reasoning_conversations), CHAT_PERCENTAGE)
    reasoning_subset = pd.Series(reasoning_conversations).sample(corrected.reasoning, random_state=2407)
    non_reasoning_subset = pd.Series(non_reasoning_conversations).sample(corrected.chat, random_state=2407)
    data = pd.concat([pd.Series(reasoning_subset), pd.Series(non_reasoning_subset)])
    data.name = "text"
    combined_dataset = Dataset.from_pandas(pd.DataFrame(data)).shuffle(seed=3407)
    clock.lap("mix: sample, concat, from_pandas, shuffle", "source")
    out = tempfile.mkdtemp(prefix="bench-data-mixed-")
    combined_dataset.save_to_disk(out)
    clock.lap("save_to_disk (mixed)", "source")
    tokens = {"reasoning": int(reasoning_lengths[reasoning_subset.index].sum()),
              "chat": int(chat_lengths[non_reasoning_subset.index].sum())}
    print(stats.to_string(), flush=True)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    chars = sum(map(len, reasoning_conversations)) + sum(map(len, non_reasoning_conversations))
    return {"steps": clock.steps, "peak_rss_gb": round(usage.ru_maxrss / 1e6, 2),
            "rows": {"reasoning": len(reasoning_dataset), "chat": len(dataset)}, "roles_before": roles_before,
            "problems": [len(r.problems) for r in reports], "too_long": [int(v) for v in stats[f"> {MAX_SEQ_LENGTH}"]],
            "mean_tokens": {k: float(v) for k, v in stats["mean"].items()},
            "mix": {"source": vars(source), "corrected": vars(corrected), "rows": len(combined_dataset),
                    "tokens": tokens},
            "tokenizer_sample": {"rows": len(sample), "tokenizer_s": round(tokenizer_s, 2),
                                 "count_tokens_s": round(counter_s, 2), "equal": by_tokenizer == list(by_counter),
                                 "all_rows_s": round(tokenizer_s * chars / sum(map(len, sample)), 1)}}


# -- the parent ----------------------------------------------------------------------------------------


def make_data(data_dir: Path, n_reasoning: int, n_chat: int) -> float:
    """Write the synthetic sets once as Hub-layout folders (reused when there); return the seconds spent."""
    if (data_dir / "done").is_file():
        return 0.0
    sys.path.insert(0, str(ROOT / "tools"))
    from synth import synth_chat, synth_reasoning  # tools/synth.py

    import datasets
    from datasets import Dataset, load_dataset

    from qwen3lab.config import BUNDLED_HUB

    datasets.disable_progress_bars()
    start = time.perf_counter()
    for name, rows in (("reasoning", synth_reasoning(n_reasoning, seed=SEED, scale="full")),
                       ("chat", synth_chat(n_chat, seed=SEED, scale="full"))):
        repo, split = SETS[name]
        bundled, folder = BUNDLED_HUB / repo, data_dir / repo
        features = load_dataset(str(bundled), split=split).features  # the real schema, from the bundled card
        (folder / "data").mkdir(parents=True, exist_ok=True)
        Dataset.from_list(rows, features=features).to_parquet(str(folder / "data" / f"{split}-00000-of-00001.parquet"))
        card = (bundled / "README.md").read_text(encoding="utf-8")
        (folder / "README.md").write_text(re.sub(r"num_examples: \d+", f"num_examples: {len(rows)}", card),
                                          encoding="utf-8")
        del rows
    (data_dir / "done").write_text("ok\n")
    return time.perf_counter() - start


def child(data_dir: Path, tokenizer_sample: int) -> dict:
    # the tokenizer baseline with the Rust threads on (qwen3lab sets TOKENIZERS_PARALLELISM=false otherwise)
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "true"}
    code = (f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); from benchmarks.bench_data import run; "
            f"print('RESULT ' + json.dumps(run({str(data_dir)!r}, {tokenizer_sample})))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    lines = proc.stdout.splitlines()
    print("\n".join(line for line in lines if not line.startswith("RESULT ")), flush=True)
    if proc.returncode != 0:
        raise SystemExit(f"the run failed:\n{proc.stderr[-4000:]}")
    return json.loads(next(line for line in lines if line.startswith("RESULT "))[len("RESULT "):])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full row counts (default 1)")
    parser.add_argument("--tokenizer-sample", type=int, default=2000,
                        help="rows of each set for the tokenizer(texts) baseline (default 2000)")
    args = parser.parse_args(argv)
    from qwen3lab.artifacts import artifacts_root

    n_reasoning, n_chat = round(N_REASONING * args.scale), round(N_CHAT * args.scale)
    data_dir = artifacts_root() / "bench" / f"hub-{n_reasoning}-{n_chat}-{SEED}"
    made = make_data(data_dir, n_reasoning, n_chat)
    print(f"data: {n_reasoning:,} reasoning + {n_chat:,} chat rows in {data_dir} "
          f"({'written in %.0f s' % made if made else 'reused'})")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; load average before: {os.getloadavg()[0]:.2f}", flush=True)
    r = child(data_dir, args.tokenizer_sample)
    print(f"load average after: {os.getloadavg()[0]:.2f} (above ~0.5 per core, another process shared the cores)\n")
    for who in ("source", "qwen3lab"):
        total = sum(wall for w, wall, _ in r["steps"].values() if w == who)
        print(f"  {who + ' calls':<52} {total:7.2f} s")
    print(f"  {'total':<52} {sum(wall for _, wall, _ in r['steps'].values()):7.2f} s   "
          f"(CPU {sum(cpu for *_, cpu in r['steps'].values()):.1f} s, peak RSS {r['peak_rss_gb']} GB)")
    t = r["tokenizer_sample"]
    print(f"  token counts of {t['rows']:,} rows: tokenizer(texts) {t['tokenizer_s']:.1f} s, count_tokens from cold "
          f"caches {t['count_tokens_s']:.1f} s ({t['tokenizer_s'] / max(t['count_tokens_s'], 1e-9):.1f}x), equal: "
          f"{t['equal']}")
    counted = r["steps"]["count_tokens (every row)"][1]
    print(f"  every row: tokenizer(texts) about {t['all_rows_s']:.0f} s (the sample's rate per character), "
          f"count_tokens {counted:.0f} s measured ({t['all_rows_s'] / max(counted, 1e-9):.1f}x)")
    print(f"  rows {r['rows']}, problems {r['problems']}, longer than {MAX_SEQ_LENGTH}: {r['too_long']}, "
          f"mean tokens {r['mean_tokens']}")
    m = r["mix"]
    share = m["tokens"]["reasoning"] / (m["tokens"]["reasoning"] + m["tokens"]["chat"])
    print(f"  mix at {CHAT_PERCENTAGE}: source formula {m['source']}, corrected {m['corrected']} -> {m['rows']:,} "
          f"rows, reasoning {share:.1%} of the tokens")
    return 0


if __name__ == "__main__":
    sys.exit(main())
