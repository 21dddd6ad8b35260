"""The data pipeline of notebooks 03-04 at full size on the CPU: ours against the source tutorial's way.

    make bench-data
    python benchmarks/bench_data.py [--scale 0.1] [--num-proc 2] [--skip-source]

Full-size synthetic data in the real schemas and lengths (``qwen3lab/data/synth.py``: 19,252
OpenMathReasoning-mini rows, 100,000 FineTome rows) is written once with ``save_to_disk`` and
read memory-mapped, as the Hub cache would be. Then two fresh processes (each with its own
peak RSS) run on the same files:

* ours: ``reasoning_to_conversations``, ``standardize_sharegpt``, ``validate_conversations``,
  ``to_text``, ``add_token_lengths``, the length check and policy, ``length_stats``,
  ``mix_datasets`` (notebooks 03 and 04 without the plots and the saving);
* the source tutorial's way: a batched ``map`` for the reasoning rows, Unsloth's
  ``standardize_sharegpt``, a list comprehension over ``tokenizer.apply_chat_template``, token
  lengths with ``tokenizer(texts)`` in batches (Rust threads on), pandas for the statistics and
  the length filter, pandas ``sample``/``concat`` + ``Dataset.from_pandas`` + ``shuffle``.

Both print their steps; the parent checks that both produced the same texts and the same token
counts (sha256 over every row) and prints the times, the ratio and the peak RSS. It prints
numbers only: nothing here is a timed assertion. Map caching is off, so every run computes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

N_REASONING, N_CHAT, SEED = 19_252, 100_000, 3407
MAX_SEQ_LENGTH = 8192  # the full profile's
CHAT_FRACTION = 0.75  # the source tutorial's


# -- shared helpers (run in the children) ----------------------------------------------------------


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (forked workers)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


class Clock:
    """Per-step wall and CPU seconds, printed as they happen (CPU well under wall x cores: a busy machine)."""

    def __init__(self, label: str):
        self.label, self.steps, self.cpu = label, {}, {}
        self.start = self.last = time.perf_counter()
        self.cpu_start = self.cpu_last = cpu_seconds()

    def lap(self, step: str) -> None:
        now, cpu = time.perf_counter(), cpu_seconds()
        self.steps[step], self.cpu[step] = round(now - self.last, 2), round(cpu - self.cpu_last, 2)
        print(f"  [{self.label}] {step:<34} {now - self.last:7.2f} s  (CPU {cpu - self.cpu_last:6.2f} s)", flush=True)
        self.last, self.cpu_last = now, cpu

    def skip(self) -> None:
        """Leave the time since the last lap out (the benchmark's own checks)."""
        self.last, self.cpu_last = time.perf_counter(), cpu_seconds()

    def result(self, **extra) -> dict:
        usage, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return {"total_s": round(sum(self.steps.values()), 2), "cpu_s": round(sum(self.cpu.values()), 1),
                "peak_rss_gb": round(usage.ru_maxrss / 1e6, 2),
                "peak_rss_children_gb": round(children.ru_maxrss / 1e6, 2),
                "steps": self.steps, **extra}


def digest(values) -> str:
    import hashlib

    h = hashlib.sha256()
    for v in values:
        h.update(str(v).encode("utf-8") + b"\x00")
    return h.hexdigest()[:16]


def load_inputs(data_dir: str):
    import datasets

    datasets.disable_caching()  # every map computes (results go to temporary files)
    datasets.disable_progress_bars()
    return datasets.load_from_disk(f"{data_dir}/reasoning"), datasets.load_from_disk(f"{data_dir}/chat")


# -- ours ----------------------------------------------------------------------------------------------


def run_ours(data_dir: str, num_proc: int | None) -> dict:
    import qwen3lab as q

    tokenizer = q.load_qwen3_tokenizer()
    reasoning, chat = load_inputs(data_dir)
    clock = Clock("ours")
    reasoning = q.reasoning_to_conversations(reasoning, num_proc=num_proc)
    chat = q.standardize_sharegpt(chat, num_proc=num_proc)
    clock.lap("conversations (map, standardize)")
    reports = [q.validate_conversations(d) for d in (reasoning, chat)]
    reasoning, chat = (q.drop_problem_rows(d, r) for d, r in zip((reasoning, chat), reports))
    clock.lap("validate structure + drop")
    reasoning = q.to_text(reasoning, tokenizer, enable_thinking=True, num_proc=num_proc)
    chat = q.to_text(chat, tokenizer, enable_thinking=False, num_proc=num_proc)
    clock.lap("chat template")
    reasoning = q.add_token_lengths(reasoning, tokenizer, num_proc=num_proc)
    chat = q.add_token_lengths(chat, tokenizer, num_proc=num_proc)
    clock.lap("token lengths")
    too_long = [len(q.validate_conversations(d, tokenizer, MAX_SEQ_LENGTH).rows("too_long")) for d in (reasoning, chat)]
    stats = q.length_stats({"reasoning": reasoning, "chat": chat}, max_seq_length=MAX_SEQ_LENGTH)
    clock.lap("length check + statistics")
    texts = digest(list(reasoning["text"]) + list(chat["text"]))
    lengths = digest(list(reasoning["n_tokens"]) + list(chat["n_tokens"]))
    clock.skip()  # the digests are the benchmark's check, not the pipeline's work
    reasoning = q.apply_length_policy(reasoning, max_seq_length=MAX_SEQ_LENGTH, policy="drop")
    chat = q.apply_length_policy(chat, max_seq_length=MAX_SEQ_LENGTH, policy="drop")
    mixed = q.mix_datasets(reasoning, chat, chat_fraction=CHAT_FRACTION, seed=SEED)
    clock.lap("length policy (drop) + mix")
    print(stats.to_string())
    return clock.result(texts=texts, lengths=lengths, too_long=too_long, mixed=q.composition(mixed),
                        problems=[len(r.problems) for r in reports])


# -- the source tutorial's way ----------------------------------------------------------------------------


def run_source(data_dir: str) -> dict:
    import numpy as np
    import pandas as pd

    import qwen3lab as q
    from datasets import Dataset

    tokenizer = q.load_qwen3_tokenizer()
    reasoning_dataset, non_reasoning_dataset = load_inputs(data_dir)
    try:
        from unsloth.chat_templates import standardize_sharegpt
    except ImportError:  # the transformers backend: the same mapping, row by row
        def standardize_sharegpt(dataset):
            roles = {"human": "user", "gpt": "assistant", "system": "system"}
            return dataset.map(lambda b: {"conversations": [[{"role": roles[t["from"]], "content": t["value"]}
                                                              for t in c] for c in b["conversations"]]}, batched=True)
    clock = Clock("source")

    def generate_conversation(examples):
        return {"conversations": [[{"role": "user", "content": p}, {"role": "assistant", "content": s}]
                                  for p, s in zip(examples["problem"], examples["generated_solution"])]}

    reasoning_convs = reasoning_dataset.map(generate_conversation, batched=True)["conversations"]
    dataset = standardize_sharegpt(non_reasoning_dataset)
    chat_convs = dataset["conversations"]
    clock.lap("conversations (map, standardize)")
    reasoning_conversations = [tokenizer.apply_chat_template(c, tokenize=False) for c in reasoning_convs]
    non_reasoning_conversations = [tokenizer.apply_chat_template(c, tokenize=False, enable_thinking=False)
                                   for c in chat_convs]
    clock.lap("chat template")

    def lengths(texts):
        out = []
        for i in range(0, len(texts), 1000):
            out += [len(ids) for ids in tokenizer(texts[i:i + 1000])["input_ids"]]
        return np.array(out)

    reasoning_lengths, chat_lengths = lengths(reasoning_conversations), lengths(non_reasoning_conversations)
    clock.lap("token lengths")
    frames = {name: pd.DataFrame({"text": texts, "n_tokens": n}) for name, texts, n in
              (("reasoning", reasoning_conversations, reasoning_lengths),
               ("chat", non_reasoning_conversations, chat_lengths))}
    stats = pd.DataFrame({name: f["n_tokens"].describe(percentiles=[0.5, 0.9, 0.99]) for name, f in frames.items()}).T
    too_long = [int((f["n_tokens"] > MAX_SEQ_LENGTH).sum()) for f in frames.values()]
    clock.lap("length check + statistics")
    texts = digest(reasoning_conversations + non_reasoning_conversations)
    lengths_digest = digest(list(reasoning_lengths) + list(chat_lengths))
    clock.skip()
    kept = {name: f[f["n_tokens"] <= MAX_SEQ_LENGTH] for name, f in frames.items()}
    chat_percentage = CHAT_FRACTION
    non_reasoning_subset = pd.Series(kept["chat"]["text"].values).sample(
        int(len(kept["reasoning"]) * (chat_percentage / (1 - chat_percentage))), random_state=2407)
    data = pd.concat([pd.Series(kept["reasoning"]["text"].values), pd.Series(non_reasoning_subset)])
    data.name = "text"
    combined_dataset = Dataset.from_pandas(pd.DataFrame(data)).shuffle(seed=SEED)
    clock.lap("length policy (drop) + mix")
    print(stats.round(1).to_string())
    return clock.result(texts=texts, lengths=lengths_digest, too_long=too_long, mixed_rows=len(combined_dataset))


# -- the parent ----------------------------------------------------------------------------------------------


def make_data(data_dir: Path, n_reasoning: int, n_chat: int) -> float:
    """Write the synthetic data once (reused when it is already there); return the seconds spent."""
    if (data_dir / "done").is_file():
        return 0.0
    from datasets import Dataset

    from qwen3lab.data.sources import chat_features, reasoning_features
    from qwen3lab.data.synth import synth_chat, synth_reasoning

    start = time.perf_counter()
    Dataset.from_list(synth_reasoning(n_reasoning, seed=SEED, scale="full"),
                      features=reasoning_features()).save_to_disk(str(data_dir / "reasoning"))
    Dataset.from_list(synth_chat(n_chat, seed=SEED, scale="full"),
                      features=chat_features()).save_to_disk(str(data_dir / "chat"))
    (data_dir / "done").write_text("ok\n")
    return time.perf_counter() - start


def child(way: str, data_dir: Path, num_proc: int | None) -> dict:
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "true" if way == "source" else "false"}
    args = repr(str(data_dir)) + (f", {num_proc!r}" if way == "ours" else "")
    code = (f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); from benchmarks.bench_data import run_{way}; "
            f"print('RESULT ' + json.dumps(run_{way}({args})))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    lines = proc.stdout.splitlines()
    print("\n".join(line for line in lines if not line.startswith("RESULT ")), flush=True)
    if proc.returncode != 0:
        raise SystemExit(f"the {way} run failed:\n{proc.stderr[-4000:]}")
    return json.loads(next(line for line in lines if line.startswith("RESULT "))[len("RESULT "):])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full row counts (default 1)")
    parser.add_argument("--num-proc", type=int, default=min(2, os.cpu_count() or 1),
                        help="processes for our maps (default: 2 on a machine with 2 cores or more; 1 = no pool)")
    parser.add_argument("--skip-source", action="store_true", help="run ours only")
    args = parser.parse_args(argv)
    from qwen3lab.artifacts import artifacts_root

    n_reasoning, n_chat = round(N_REASONING * args.scale), round(N_CHAT * args.scale)
    data_dir = artifacts_root() / "bench" / f"data-{n_reasoning}-{n_chat}-{SEED}"
    made = make_data(data_dir, n_reasoning, n_chat)
    print(f"data: {n_reasoning:,} reasoning + {n_chat:,} chat rows in {data_dir} "
          f"({'written in %.0f s' % made if made else 'reused'})")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; load average before: {os.getloadavg()[0]:.2f}", flush=True)
    num_proc = args.num_proc if args.num_proc > 1 else None
    results = {"ours": child("ours", data_dir, num_proc)}
    if not args.skip_source:
        results["source"] = child("source", data_dir, None)
    print(f"load average after: {os.getloadavg()[0]:.2f} (above ~0.5 another process shared the 2 cores)\n")
    print(f"{'':<38} {'ours':>9} {'source':>9}")
    names = list(dict.fromkeys([*results["ours"]["steps"], *results.get("source", {}).get("steps", {})]))
    for name in names:
        cells = [f"{r['steps'][name]:9.2f}" if name in r["steps"] else f"{'-':>9}" for r in results.values()]
        print(f"  {name:<36} {' '.join(cells)}")
    for key, label in (("total_s", "total (s)"), ("cpu_s", "CPU time, incl. workers (s)"),
                       ("peak_rss_gb", "peak RSS (GB)"), ("peak_rss_children_gb", "peak RSS of a worker (GB)")):
        theirs = f"{results['source'][key]:9.2f}" if "source" in results else ""
        print(f"  {label:<36} {results['ours'][key]:9.2f} {theirs}")
    print(f"  num_proc (ours): {num_proc}; rows longer than {MAX_SEQ_LENGTH}: {results['ours']['too_long']}; "
          f"mixed: {results['ours']['mixed']}")
    if "source" in results:
        s, o = results["source"], results["ours"]
        print(f"  same texts: {s['texts'] == o['texts']}, same token counts: {s['lengths'] == o['lengths']}, "
              f"same rows over the limit: {s['too_long'] == o['too_long']}")
        print(f"  ratio source / ours: {s['total_s'] / o['total_s']:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
