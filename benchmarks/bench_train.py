"""GPU training benchmark: QLoRA recipes on a Qwen3-8B-shaped model, side by side.

    python benchmarks/bench_train.py                       # recipes a, b, c at max_seq_length 8192
    python benchmarks/bench_train.py --max-seq-length 2048 --recipes c
    python benchmarks/bench_train.py --memory-cap-gib 24 --recipes b,c
    python benchmarks/bench_train.py --max-seq-length 2048 --recipes c --profile c   # GPU busy share
    python benchmarks/bench_train.py --print results.json                           # a saved run's table
    python benchmarks/bench_train.py --recipes c --steps 12 --logs logs --torch-logs recompiles,recompiles_verbose

Recipes (each in its own process, so Unsloth's patches never leak into the others):
  a         the peer: plain transformers + PEFT + bitsandbytes + TRL (no Unsloth, no qwen3lab in its
            process), micro-batch 2 x 4, gradient checkpointing, padded rows
  b         the source tutorial's Unsloth recipe as written: FastLanguageModel, 2 x 4, Unsloth
            checkpointing, padded rows (if it fails, it is retried as b-nc and both are reported)
  c         qwen3lab's default GPU recipe (the full profile): FastModel, and qwen3lab.fast.speed_up
            fitting micro-batch, token budget and checkpointing to the free memory; the same rows per step
  c-flm     c's fitted recipe through FastLanguageModel (qwen3lab's default before FastModel)
  b-fm      b's batches through FastModel
  b-nc      b with Unsloth's per-block torch.compile off (UNSLOTH_BLOCK_COMPILE=0)
  b-debug   b with CUDA_LAUNCH_BLOCKING=1, to name the kernel behind a device-side assert
  c-dyn     c with every torch.compile shape dynamic from the first compile (assume_static_by_default off)
  c-fused   c with torch's fused AdamW instead of bitsandbytes' 8-bit AdamW
  c-unfused c with PEFT's LoRA forward instead of qwen3lab's fused operator (cfg.fused_lora off)
  c-cdt     c with Inductor's coordinate-descent tuning of its Triton kernels
  c-bf16    c with the frozen products in bf16 (cfg.fp8_frozen False): c before FP8
  c-keep    c-bf16 with the frozen weights kept dequantized while training (cfg.keep_dequantized True)
  c-nokeep  c with them dequantized for each product (cfg.keep_dequantized False)
  c-pad     c-nokeep with each step padded to a multiple of 128 tokens (cfg.pad_to_multiple_of)
  c-lt      c with torch's matrix products through cuBLASLt (TORCH_BLAS_PREFER_CUBLASLT=1)
  c-fp8-exact, c-fp8-fast  c (FP8 frozen products) with fast FP8 accumulation in no product, or in
            the dX products too (default: the forward products only)

Every Unsloth recipe makes notebook 05's calls: ``FastLanguageModel``/``FastModel.from_pretrained``,
``get_peft_model``, ``SFTConfig`` with the source's argument names (values from the full profile
and the recipe), ``qwen3lab.fast.speed_up``, ``SFTTrainer`` with its callbacks, and Unsloth's
``train_on_responses_only``. The peer (a) is self-contained here, since the package no longer has a
transformers + PEFT path: bitsandbytes' NF4, PEFT's ``prepare_model_for_kbit_training`` and
``get_peft_model``, TRL's ``SFTTrainer`` on rows tokenized and masked to the assistant's tokens here.

The model has Qwen3-8B's exact shape (hidden 4096, intermediate 12288, 36 layers, 32/8 heads,
head_dim 128, vocabulary 151,936, untied) and random weights, so nothing is downloaded; it is
written once in bf16 to --model-dir and quantized to NF4 on load. The data are the full-size
synthetic sets of tools/synth.py (real schemas, realistic lengths), rendered with Qwen3's chat
template as the source renders them and mixed as notebook 04 mixes them (75% chat, the corrected
formula). Model and data are built by a separate process, so that this one holds no GPU memory
while the recipes run. Prints a table and writes JSON (--out).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: --torch-logs for the workers (not TORCH_LOGS, which importing Unsloth removes; not QWEN3LAB_*,
#: which qwen3lab's config reads as config fields)
TORCH_LOGS_ENV = "BENCH_TRAIN_TORCH_LOGS"
#: H100 bf16 dense matrix throughput measured on the GPU machine (see docs/benchmarks.md).
PEAK_FLOPS = 790e12
#: The config fields of the source recipe (b) and of qwen3lab's default (c, the full profile's own
#: loader); the other recipes change one thing of one of them.
_SOURCE = {"use_gradient_checkpointing": "unsloth", "padding_free": False, "speed_layer": False,
           "unsloth_loader": "FastLanguageModel", "fused_lora": False}
#: (c), as measured in docs/benchmarks.md: the frozen weights kept where the memory allows (the
#: config's keep_dequantized None; its default is False, as the full profile at 8192 never keeps them)
_DEFAULT = {"use_gradient_checkpointing": "unsloth", "padding_free": None, "speed_layer": True,
            "keep_dequantized": None}
#: Each recipe: "cfg", the config overrides on the full profile; "env", the worker's extra
#: environment; "dynamic_first", every torch.compile shape dynamic from the first compile;
#: "peer", the plain transformers + PEFT worker instead of notebook 05's calls.
RECIPES = {
    "a": {"cfg": {"use_gradient_checkpointing": True, "padding_free": False, "speed_layer": False,
                  "fused_lora": False}, "peer": True,
          "what": "transformers + PEFT + bitsandbytes, 2 x 4, checkpointing, padded"},
    # the strongest peer outside Unsloth that installs here: (a) with Liger's kernels (RMSNorm, RoPE,
    # SwiGLU; TRL's own chunked LM head and loss), the 8 rows of a step as one padding-free micro-batch
    # (transformers' SDPA keeps the rows apart by their position_ids), gradient checkpointing
    "l": {"cfg": {"use_gradient_checkpointing": True, "padding_free": True, "speed_layer": False,
                  "per_device_train_batch_size": 8, "gradient_accumulation_steps": 1}, "peer": True, "liger": True,
          "what": "transformers + PEFT + bitsandbytes + Liger kernels, 8 x 1 padding-free, checkpointing"},
    "b": {"cfg": _SOURCE,
          "what": "Unsloth, source recipe as written: FastLanguageModel, 2 x 4, Unsloth checkpointing, padded"},
    "c": {"cfg": _DEFAULT, "what": "Unsloth, qwen3lab default (full profile): FastModel, fitted to the card"},
    # (c) as it was before FastModel: the same fitted recipe through FastLanguageModel, whose own
    # Qwen3 forward Unsloth leaves uncompiled for padding-free batches (host-bound; see docs)
    "c-flm": {"cfg": {**_DEFAULT, "unsloth_loader": "FastLanguageModel"},
              "what": "Unsloth, fitted recipe through FastLanguageModel"},
    # (b)'s batches through FastModel: what the loader alone is worth on the source recipe
    "b-fm": {"cfg": {**_SOURCE, "unsloth_loader": "FastModel"},
             "what": "Unsloth, source recipe through FastModel: 2 x 4, Unsloth checkpointing, padded"},
    # (b) with Unsloth's per-block torch.compile off
    "b-nc": {"cfg": _SOURCE, "env": {"UNSLOTH_BLOCK_COMPILE": "0"},
             "what": "Unsloth, source recipe: 2 x 4, Unsloth checkpointing, padded; block compile off"},
    # (c) with every torch.compile shape dynamic from the first compile (no recompile when a pass's
    # length or sequence count first changes)
    "c-dyn": {"cfg": _DEFAULT, "dynamic_first": True,
              "what": "Unsloth, qwen3lab default, shapes dynamic from the first compile"},
    # (c) with torch's fused AdamW (one multi-tensor kernel) instead of bitsandbytes' 8-bit AdamW
    "c-fused": {"cfg": {**_DEFAULT, "optim": "adamw_torch_fused"},
                "what": "Unsloth, qwen3lab default, torch fused AdamW"},
    # (c) with PEFT's LoRA forward (compiled as base + addmm) instead of qwen3lab's fused operator
    "c-unfused": {"cfg": {**_DEFAULT, "fused_lora": False},
                  "what": "Unsloth, qwen3lab default, LoRA layers as PEFT computes them (fused_lora off)"},
    # (c) with the frozen weights kept dequantized while training, and without (the token budget
    # pays for the 16-bit copies where they are kept)
    "c-keep": {"cfg": {**_DEFAULT, "keep_dequantized": True, "fp8_frozen": False},
               "what": "Unsloth, qwen3lab default, frozen weights kept dequantized"},
    "c-nokeep": {"cfg": {**_DEFAULT, "keep_dequantized": False},
                 "what": "Unsloth, qwen3lab default, frozen weights dequantized per product"},
    # (c) with each step padded to a multiple of 128 tokens (cuBLAS picks its kernels faster for
    # such row counts), and with torch's matrix products through cuBLASLt
    "c-pad": {"cfg": {**_DEFAULT, "keep_dequantized": False, "pad_to_multiple_of": 128},
              "what": "Unsloth, qwen3lab default, steps padded to a multiple of 128 tokens"},
    "c-lt": {"cfg": _DEFAULT, "env": {"TORCH_BLAS_PREFER_CUBLASLT": "1"},
             "what": "Unsloth, qwen3lab default, matrix products through cuBLASLt"},
    # (c) with the frozen products in bf16: where the weights are kept, FP8 (e4m3, rowwise scales) is c's
    "c-bf16": {"cfg": {**_DEFAULT, "fp8_frozen": False},
               "what": "Unsloth, qwen3lab default, frozen products in bf16"},
    "c-fp8-exact": {"cfg": {**_DEFAULT, "keep_dequantized": True, "fp8_frozen": True},
                    "env": {"QWEN3LAB_FP8_FAST_ACCUM": "none"},
                    "what": "c, float32 accumulation in every FP8 product"},
    "c-fp8-fast": {"cfg": {**_DEFAULT, "keep_dequantized": True, "fp8_frozen": True},
                   "env": {"QWEN3LAB_FP8_FAST_ACCUM": "both"},
                   "what": "c, fast accumulation in the forward and the dX products"},
    # (c) with Inductor's coordinate-descent tuning of its generated Triton kernels (longer compile)
    "c-cdt": {"cfg": _DEFAULT, "env": {"TORCHINDUCTOR_COORDINATE_DESCENT_TUNING": "1"},
              "what": "Unsloth, qwen3lab default, Inductor coordinate-descent tuning"},
    # (b) with synchronous launches, so a failing kernel is the one named
    "b-debug": {"cfg": _SOURCE, "env": {"CUDA_LAUNCH_BLOCKING": "1", "UNSLOTH_BLOCK_COMPILE_DEBUG": "1"},
                "what": "Unsloth, source recipe as written, CUDA_LAUNCH_BLOCKING=1 (diagnosis, slow)"},
}


def flops_per_token(seq_len: float, config: dict, r: int = 32) -> float:
    """4 x frozen + 6 x LoRA parameters + attention, per trained token, for a Qwen3 ``config`` (the
    model folder's config.json) with LoRA on all seven projections. Computed here from the config's
    sizes (no model is loaded for it); tests/test_bench_counts.py checks it against ``qwen3lab.model``'s counts."""
    hidden, inner, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    head_dim = config.get("head_dim") or hidden // config["num_attention_heads"]
    q_width, kv_width = config["num_attention_heads"] * head_dim, config["num_key_value_heads"] * head_dim
    shapes = [(hidden, q_width), (hidden, kv_width), (hidden, kv_width), (q_width, hidden),
              (hidden, inner), (hidden, inner), (inner, hidden)]  # q, k, v, o, gate, up, down
    frozen = layers * sum(i * o for i, o in shapes) + config["vocab_size"] * hidden
    lora = layers * sum(r * (i + o) for i, o in shapes)
    attention = 6 * layers * q_width * seq_len  # causal: half of 12 * layers * d * seq
    return 4 * frozen + 6 * lora + attention


# -- model and data: built once, in a process of their own (``--build``) -------------------------


def build_model(model_dir: Path) -> None:
    if (model_dir / "config.json").is_file():
        return
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from qwen3lab.tiny import QWEN3_8B, load_qwen3_tokenizer

    config = Qwen3Config(**{k: v for k, v in QWEN3_8B.items() if k != "rope_theta"},
                         rope_parameters={"rope_type": "default", "rope_theta": QWEN3_8B["rope_theta"]},
                         tie_word_embeddings=False, dtype="bfloat16")
    start = time.perf_counter()
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = Qwen3ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(model_dir)
    load_qwen3_tokenizer().save_pretrained(model_dir)
    print(f"built the Qwen3-8B-shaped model in {time.perf_counter() - start:.0f} s -> {model_dir}", flush=True)


#: ShareGPT's roles (FineTome's ``from``) as the chat template's (what ``standardize_sharegpt`` does).
SHAREGPT_ROLES = {"human": "user", "gpt": "assistant", "system": "system"}
CHAT_PERCENTAGE = 0.75  # the source tutorial's chat share of the mix


def mixed_texts(reasoning: list[dict], chat: list[dict], tokenizer, seed: int = 3407) -> list[str]:
    """Notebooks 03-04's data as the source makes it: each reasoning row as a user/assistant
    conversation, each chat row's ShareGPT turns as role/content, both rendered with
    ``tokenizer.apply_chat_template(..., tokenize=False)``, then ``CHAT_PERCENTAGE`` chat rows in
    the mix by the corrected formula (chat = reasoning x p / (1 - p): 75% chat, not the source's
    ~20%), sampled, concatenated and shuffled as notebook 04 does."""
    import pandas as pd
    from datasets import Dataset

    reasoning_conversations = tokenizer.apply_chat_template(
        [[{"role": "user", "content": row["problem"]}, {"role": "assistant", "content": row["generated_solution"]}]
         for row in reasoning], tokenize=False)
    chat_conversations = tokenizer.apply_chat_template(
        [[{"role": SHAREGPT_ROLES[turn["from"]], "content": turn["value"]} for turn in row["conversations"]]
         for row in chat], tokenize=False)
    n_chat = round(len(reasoning_conversations) * CHAT_PERCENTAGE / (1 - CHAT_PERCENTAGE))
    if n_chat > len(chat_conversations):
        raise ValueError(f"{n_chat} chat rows needed for a {CHAT_PERCENTAGE:.0%} mix, {len(chat_conversations)} given")
    chat_subset = pd.Series(chat_conversations).sample(n_chat, random_state=2407)
    data = pd.concat([pd.Series(reasoning_conversations), pd.Series(chat_subset)])
    data.name = "text"
    return list(Dataset.from_pandas(pd.DataFrame(data)).shuffle(seed=seed)["text"])


def build_data(data_dir: Path, rows: int, seed: int) -> None:
    if (data_dir / "dataset_info.json").is_file():
        return
    from datasets import Dataset

    from qwen3lab.tiny import load_qwen3_tokenizer

    sys.path.insert(0, str(ROOT / "tools"))
    from synth import synth_chat, synth_reasoning  # tools/synth.py

    n = max(rows, 500)  # a slice of the full-size generator's output, with the real sets' length mix
    texts = mixed_texts(synth_reasoning(n, seed=seed), synth_chat(3 * n, seed=seed), load_qwen3_tokenizer(), seed)
    Dataset.from_dict({"text": texts[:rows]}).save_to_disk(str(data_dir))


def run_build(args, rows: int) -> None:
    """Build the model and the data in a child process: the CUDA context and the imports it needs
    (qwen3lab, so Unsloth) end with it, and every recipe finds the whole card free."""
    cmd = [sys.executable, __file__, "--build", "--model-dir", str(args.model_dir), "--data-dir", str(args.data_dir),
           "--rows", str(rows)]
    proc = subprocess.run(cmd, env={**os.environ, "PYTHONUNBUFFERED": "1"}, capture_output=True, text=True)
    print("\n".join(line for line in proc.stdout.splitlines() if line.startswith("built")), flush=True)
    if proc.returncode:
        raise SystemExit(f"building the model or the data failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")


# -- the parent: one process per recipe ---------------------------------------------------------


def run_recipe(name: str, args) -> dict:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **RECIPES[name].get("env", {})}
    env.pop("UNSLOTH_TOKEN_BUDGET", None)
    if args.torch_logs:  # e.g. "recompiles": which guard failed when a step recompiled (see --logs)
        env[TORCH_LOGS_ENV] = args.torch_logs
    cmd = [sys.executable, __file__, "--worker", name, "--model-dir", str(args.model_dir), "--data-dir",
           str(args.data_dir), "--max-seq-length", str(args.max_seq_length), "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--memory-cap-gib", str(args.memory_cap_gib)]
    if args.profile and name in args.profile.split(","):
        cmd.append("--profile")
        if args.trace_dir:
            cmd += ["--trace-dir", str(args.trace_dir)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if args.logs:  # the worker's whole output, for what the table leaves out (compile notes, tracebacks)
        args.logs.mkdir(parents=True, exist_ok=True)
        log = args.logs / f"{name}-{args.max_seq_length}-cap{args.memory_cap_gib:g}.log"
        log.write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    for line in proc.stdout.splitlines():
        if line.startswith(("PROFILE ", "FAST ")):
            print(f"  {name}: {line.split(' ', 1)[1]}", flush=True)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    tail = (proc.stdout[-2000:] + proc.stderr[-4000:]).strip()
    errors = [ln for ln in tail.splitlines() if "Error" in ln or "error:" in ln]
    return {"recipe": name, "error": (errors or tail.splitlines() or [f"exit {proc.returncode}"])[-1], "log": tail}


def run_with_fallback(name: str, args) -> list[dict]:
    """Run a recipe; recipe b, if it fails, is followed by b-nc (b with Unsloth's block compile off).

    The source recipe's padded batches run Unsloth's per-block torch.compile, which stopped on the
    H100 with a CUDA device-side assert at its second step (in two runs); b-nc measures the same
    recipe on Unsloth's uncompiled path, and both outcomes are reported.
    """
    first = run_recipe(name, args)
    if "error" not in first or name != "b":
        return [first]
    print(f"recipe b failed ({first['error'][:200]}); running b-nc", flush=True)
    return [first, run_recipe("b-nc", args)]


def print_table(results: list[dict], args) -> None:
    nan = float("nan")  # fields that runs before the per-batch count did not record
    cap = f", memory cap {args.memory_cap_gib:g} GiB" if args.memory_cap_gib else ""
    print(f"\nmax_seq_length {args.max_seq_length}{cap}, {args.steps} steps (median step of the last "
          f"{args.steps - args.warmup}; rates over their total time)")
    print(f"{'recipe':<8}{'trained tok/s':>14}{'tokens/s':>10}{'step s':>8}{'rows':>6}{'pad':>6}{'longest':>8}"
          f"{'peak GiB':>10}{'MFU':>7}  what")
    for r in results:
        if "error" in r:
            print(f"{r['recipe']:<8}{'failed':>14}  {r['error'][:150]}")
            continue
        print(f"{r['recipe']:<8}{r['trained_tokens_per_s']:>14,.0f}{r['tokens_per_s']:>10,.0f}"
              f"{r['step_s']:>8.2f}{r.get('rows_per_step', nan):>6.1f}{r.get('padding_share', nan):>6.0%}"
              f"{r.get('longest_row', nan):>8,.0f}"
              f"{r['peak_reserved_gib']:>10.1f}{r['mfu']:>7.1%}  {r['what']}")
        if r.get("recipe_choice"):
            print(f"{'':8}chosen: {r['recipe_choice']['reason']}")
            if r["recipe_choice"].get("planned_bytes"):
                print(f"{'':8}{memory_margin(r)}")
    done = {r["recipe"]: r for r in results if "error" not in r}
    b = done.get("b") or done.get("b-nc")
    if "c" in done and "l" in done:
        print(_versus(done["c"], done["l"]))
    for other in ("a", "l", "c", "c-flm", "b-fm", "c-dyn", "c-fused", "c-cdt", "c-unfused", "c-nokeep", "c-lt", "c-bf16"):
        if b is not None and other in done:
            print(_versus(done[other], b))
    # c's variants against c itself (runs without b, such as at max_seq_length 2048)
    for other in sorted(name for name in done if name.startswith("c-")):
        if "c" in done:
            print(_versus(done[other], done["c"]))


def memory_margin(r: dict) -> str:
    """A fitted recipe's measured peak beside what it planned: the memory reserved when it was fitted
    plus its plan (training's base, the kept weights, the budget's activations), and the share of the
    free memory the plan left unused (the safety margin)."""
    gib = 2**30
    plan = r["reserved_before_fit_gib"] + r["recipe_choice"]["planned_bytes"] / gib
    free_line = r["reserved_before_fit_gib"] + r["recipe_choice"].get("free_bytes", 0) / gib
    return (f"peak {r['peak_reserved_gib']:.1f} GiB reserved against a plan of {plan:.1f} GiB "
            f"({r['reserved_before_fit_gib']:.1f} loaded + {r['recipe_choice']['planned_bytes'] / gib:.1f} planned)"
            f"; {r['peak_reserved_gib'] / plan:.0%} of the plan"
            + (f", {free_line - r['peak_reserved_gib']:.1f} GiB of the card's free memory left at the peak"
               if r["recipe_choice"].get("free_bytes") else ""))


def _versus(o: dict, base: dict) -> str:
    """``o``'s trained tokens/s as a multiple of ``base``'s, and how far apart their losses are."""
    speedup = o["trained_tokens_per_s"] / base["trained_tokens_per_s"]
    n = min(len(base["losses"]), len(o["losses"]))
    worst = max((abs(x - y) / abs(x) for x, y in zip(base["losses"][:n], o["losses"][:n])), default=float("nan"))
    return (f"{o['recipe']} / {base['recipe']} = {speedup:.2f}x trained tokens/s; loss per token over the same "
            f"{n} steps, largest relative difference {worst:.2%}")


# -- a worker: one recipe in its own process --------------------------------------------------------


def add_batch_counts(counts: dict, inputs) -> None:
    """One micro-batch's counts, exactly as notebook 05 counts them (qwen3lab.meter)."""
    from qwen3lab.meter import add_batch_counts  # import qwen3lab imports no Unsloth: the peer may use it

    add_batch_counts(counts, inputs)


def _gpu_busy_profiler():
    from transformers import TrainerCallback

    class GpuBusyProfiler(TrainerCallback):
        """Profiles one step: the share of its wall time the GPU spent in kernels, and the top kernels."""

        def __init__(self, step: int, trace: Path | None = None):
            self.step, self.prof, self.trace = step, None, trace

        def on_step_begin(self, args, state, control, **_):
            import torch

            if state.global_step == self.step:
                self.prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU,
                                                               torch.profiler.ProfilerActivity.CUDA])
                torch.cuda.synchronize()
                self.start = time.perf_counter()
                self.prof.__enter__()

        def on_step_end(self, args, state, control, **_):
            import torch

            if self.prof is None:
                return
            torch.cuda.synchronize()
            wall = time.perf_counter() - self.start
            self.prof.__exit__(None, None, None)
            events = [e for e in self.prof.key_averages() if e.device_type == torch.autograd.DeviceType.CUDA]
            busy = sum(e.self_device_time_total for e in events) / 1e6
            kernels = sum(e.count for e in events)
            print(f"PROFILE step wall {wall:.3f} s, GPU kernel time {busy:.3f} s ({busy / wall:.0%} busy), "
                  f"{kernels} kernel launches", flush=True)
            for e in sorted(events, key=lambda e: -e.self_device_time_total)[:12]:
                print(f"PROFILE {e.self_device_time_total / 1e3:9.1f} ms {e.count:6d}x  {e.key[:100]}", flush=True)
            if self.trace:  # the whole step, for benchmarks/trace_summary.py (kinds, idle gaps)
                self.trace.parent.mkdir(parents=True, exist_ok=True)
                self.prof.export_chrome_trace(str(self.trace))
                print(f"PROFILE trace -> {self.trace}", flush=True)
            self.prof = None

    return GpuBusyProfiler


#: Where a user turn and an assistant turn start in Qwen3's template (the source tutorial's strings).
INSTRUCTION_PART, RESPONSE_PART = "<|im_start|>user\n", "<|im_start|>assistant\n"


def full_profile(args, overrides: dict):
    """The full profile with the benchmark's run settings and a recipe's ``overrides``: qwen3lab's
    ``PROFILES["full"]``, not ``get_config``, so that no QWEN3LAB_* variable or config file of the
    machine changes a recipe."""
    from qwen3lab.config import PROFILES

    return PROFILES["full"].replace(
        model_name=str(args.model_dir), max_seq_length=args.max_seq_length,
        # one step more than timed, in every recipe: the profiled one where a recipe is profiled,
        # and the same learning-rate schedule (which max_steps sets) for all
        max_steps=args.steps + 1, warmup_steps=1, report_to="none", save_steps=10**6, logging_steps=1,
        dataset_num_proc=8, **overrides)


def sft_config(cfg, **extra):
    """TRL's ``SFTConfig`` with the source's arguments, values from ``cfg`` (as notebook 05 writes it)."""
    from trl import SFTConfig

    optional = {name: getattr(cfg, name) for name in ("padding_free", "pad_to_multiple_of")
                if getattr(cfg, name) is not None}
    kwargs = dict(dataset_text_field="text", per_device_train_batch_size=cfg.per_device_train_batch_size,
                  gradient_accumulation_steps=cfg.gradient_accumulation_steps, warmup_steps=cfg.warmup_steps,
                  max_steps=cfg.max_steps, learning_rate=cfg.learning_rate, logging_steps=cfg.logging_steps,
                  optim=cfg.optim, weight_decay=cfg.weight_decay, lr_scheduler_type=cfg.lr_scheduler_type,
                  seed=cfg.seed, report_to=cfg.report_to, output_dir="/tmp/qwen3lab-bench-run",
                  max_length=cfg.max_seq_length, save_steps=cfg.save_steps, dataset_num_proc=cfg.dataset_num_proc)
    return SFTConfig(**{**kwargs, **optional, **extra})


def unsloth_trainer(name: str, args):
    """Notebook 05's calls for a recipe: (trainer, model, what the result records of them)."""
    import torch

    import qwen3lab

    qwen3lab.bootstrap()  # first: Unsloth before transformers, TRL and PEFT
    import unsloth
    from datasets import load_from_disk
    from trl import SFTTrainer
    from unsloth.chat_templates import train_on_responses_only

    from qwen3lab import fast
    from qwen3lab.fast import fused_lora

    if args.memory_cap_gib:
        fast.cap_gpu_memory(args.memory_cap_gib)
    spec = RECIPES[name]
    cfg = full_profile(args, spec["cfg"])
    if spec.get("dynamic_first"):
        torch._dynamo.config.assume_static_by_default = False
    loader = getattr(unsloth, cfg.loader)
    model, tokenizer = loader.from_pretrained(model_name=cfg.model_name, max_seq_length=cfg.max_seq_length,
                                              dtype=None, load_in_4bit=cfg.load_in_4bit)
    if os.environ.get(TORCH_LOGS_ENV):
        # set after loading: importing Unsloth silences torch's logs and drops TORCH_LOGS
        torch._logging.set_logs(**{artifact: True for artifact in os.environ[TORCH_LOGS_ENV].split(",")})
    model = loader.get_peft_model(model, r=cfg.r, target_modules=list(cfg.target_modules), lora_alpha=cfg.lora_alpha,
                                  lora_dropout=cfg.lora_dropout, bias=cfg.bias,
                                  use_gradient_checkpointing=cfg.use_gradient_checkpointing,
                                  random_state=cfg.random_state, use_rslora=cfg.use_rslora, loftq_config=None)
    train_dataset = load_from_disk(str(args.data_dir))
    reserved_before_fit = torch.cuda.memory_reserved()
    speedup = fast.speed_up(model, sft_config(cfg), cfg, dataset=train_dataset, tokenizer=tokenizer)
    for setting, row in speedup.table.to_dict("index").items():  # the table notebook 05 shows
        print(f"FAST {setting}: {row['source']!r} -> {row['fitted']!r} ({row['why']})", flush=True)
    trainer = SFTTrainer(model=model, processing_class=tokenizer, train_dataset=train_dataset,
                         args=speedup.args, callbacks=speedup.callbacks)
    trainer = train_on_responses_only(trainer, instruction_part=INSTRUCTION_PART, response_part=RESPONSE_PART)
    return trainer, model, {"backend": "unsloth", "unsloth_loader": cfg.loader,
                            "recipe_choice": speedup.recipe.to_dict(), "fused_lora_layers": fused_lora.installed(model),
                            "reserved_before_fit_gib": reserved_before_fit / 2**30}


def response_only_labels(input_ids: list[int], response_ids: list[int], end_id: int) -> list[int]:
    """Labels that keep only the assistant's turns: -100 everywhere else (the peer's masking).

    A turn starts after each occurrence of ``response_ids`` (the tokens of
    ``"<|im_start|>assistant\\n"``) and ends with ``end_id`` (``<|im_end|>``, kept so the model learns
    to stop), or at the end of a truncated row: the spans Unsloth's ``train_on_responses_only``
    keeps for the Qwen3 template.
    """
    labels = [-100] * len(input_ids)
    width, i = len(response_ids), 0
    while i + width <= len(input_ids):
        if input_ids[i:i + width] != response_ids:
            i += 1
            continue
        start = end = i + width
        while end < len(input_ids) and input_ids[end] != end_id:
            end += 1
        end = min(end + 1, len(input_ids))  # include the end token when it is there
        labels[start:end] = input_ids[start:end]
        i = end
    return labels


def peer_trainer(name: str, args):
    """Recipe (a): transformers + bitsandbytes + PEFT + TRL, no Unsloth and no qwen3lab imported.

    NF4 with double quantization and bf16 compute, PEFT's ``prepare_model_for_kbit_training`` with
    gradient checkpointing (non-reentrant), LoRA on the seven projections, TRL's ``SFTTrainer`` on
    rows tokenized here with labels masked to the assistant's tokens (TRL keeps a ``labels``
    column as it is and cuts both columns at ``max_length``).
    """
    import torch
    from datasets import Dataset, load_from_disk
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
    from trl import SFTTrainer

    if args.memory_cap_gib:
        total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, args.memory_cap_gib * 2**30 / total))
    cfg = full_profile(args, RECIPES[name]["cfg"])
    quantization = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                      bnb_4bit_compute_dtype=torch.bfloat16)
    model = AutoModelForCausalLM.from_pretrained(cfg.model_name, quantization_config=quantization, dtype=torch.bfloat16,
                                                 device_map={"": 0})
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
    torch.manual_seed(cfg.random_state)
    model = get_peft_model(model, LoraConfig(r=cfg.r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                                             bias=cfg.bias, target_modules=list(cfg.target_modules),
                                             task_type="CAUSAL_LM"))
    tokenizer = AutoTokenizer.from_pretrained(cfg.model_name)
    response_ids = tokenizer(RESPONSE_PART, add_special_tokens=False)["input_ids"]
    ids = tokenizer(list(load_from_disk(str(args.data_dir))["text"]), add_special_tokens=False)["input_ids"]
    ids = [row[:cfg.max_seq_length] for row in ids]  # cut here: TRL does not cut padding-free rows
    dataset = Dataset.from_dict({"input_ids": ids, "labels": [response_only_labels(row, response_ids,
                                                                                   tokenizer.eos_token_id)
                                                              for row in ids]})
    liger = bool(RECIPES[name].get("liger"))
    extra = {"use_liger_kernel": True, "max_length": None} if liger else {}
    sft = sft_config(cfg, bf16=True, gradient_checkpointing=True,
                     gradient_checkpointing_kwargs={"use_reentrant": False}, **extra)
    trainer = SFTTrainer(model=model, processing_class=tokenizer, train_dataset=dataset, args=sft)
    about = {"backend": "transformers+peft" + ("+liger" if liger else ""), "unsloth_loader": None,
             "attn_implementation": model.config._attn_implementation}
    if liger:
        from importlib.metadata import version

        about["liger_kernel"] = version("liger-kernel")
    return trainer, model, about


def worker(name: str, args) -> None:
    trainer, model, about = (peer_trainer if RECIPES[name].get("peer") else unsloth_trainer)(name, args)
    import torch

    GpuBusyProfiler = _gpu_busy_profiler()
    # the same counts as notebook 05's: qwen3lab.meter wraps training_step, outside Unsloth's budget
    from qwen3lab.meter import StepMeter

    meter = StepMeter(trainer)
    steps = meter.steps
    if args.profile:
        trace = args.trace_dir / f"{name}-{args.max_seq_length}.json.gz" if args.trace_dir else None
        trainer.add_callback(GpuBusyProfiler(step=args.steps, trace=trace))  # one extra step, not timed
    torch.cuda.reset_peak_memory_stats()
    trainer.train()
    measured = steps[args.warmup:args.steps]
    if not sum(s["tokens"] for s in measured):
        raise SystemExit("no batch reached the counting training_step: the trainer bypassed it")
    step_s = statistics.median(s["s"] for s in measured)
    total_s = sum(s["s"] for s in measured)
    tokens = sum(s["tokens"] for s in measured)
    trained = sum(s["trained"] for s in measured)
    padded = sum(s["padded"] for s in measured)
    mean_len = tokens / max(1, sum(s["rows"] for s in measured))
    config = json.loads((args.model_dir / "config.json").read_text())
    flops = flops_per_token(mean_len, config) * tokens / total_s
    result = {
        "recipe": name, "what": RECIPES[name]["what"], **about,
        "longest_row": max(s["longest"] for s in steps),
        "device": torch.cuda.get_device_name(0), "max_seq_length": args.max_seq_length,
        "memory_cap_gib": args.memory_cap_gib, "steps": len(steps),
        "step_s": step_s, "tokens_per_s": tokens / total_s, "trained_tokens_per_s": trained / total_s,
        "rows_per_step": sum(s["rows"] for s in measured) / len(measured),
        "tokens_per_step": tokens / len(measured), "trained_per_step": trained / len(measured),
        "padding_share": padded / max(1, padded + tokens), "mean_row_tokens": mean_len,
        "per_step": [{k: round(v, 4) if isinstance(v, float) else v for k, v in s.items()} for s in steps],
        "env": {k: v for k, v in os.environ.items() if k.startswith("UNSLOTH_") and k != "UNSLOTH_AUTO_INSTALL"},
        "bf16": bool(trainer.args.bf16), "gradient_checkpointing": bool(trainer.args.gradient_checkpointing),
        "peak_reserved_gib": torch.cuda.max_memory_reserved() / 2**30,
        "peak_allocated_gib": torch.cuda.max_memory_allocated() / 2**30,
        "mfu": flops / PEAK_FLOPS,
        "losses": [h["loss"] for h in trainer.state.log_history if "loss" in h],
    }
    print("RESULT " + json.dumps(result), flush=True)


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` beside ``path`` and move it into place: a killed run never leaves half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default="a,b,c")
    parser.add_argument("--max-seq-length", type=int, default=8192)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2, help="steps left out of the timing")
    parser.add_argument("--memory-cap-gib", type=float, default=0.0)
    parser.add_argument("--model-dir", type=Path, default=Path("/tmp/qwen3-8b-shape"))
    parser.add_argument("--data-dir", type=Path, help="default /tmp/qwen3lab-bench-mix-<rows> (16 rows a step)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--logs", type=Path, help="write each worker's full output to this folder")
    parser.add_argument("--torch-logs", default="", help="torch log artifacts for the workers, e.g. recompiles,graph_breaks")
    parser.add_argument("--profile", nargs="?", const="c", default="",
                        help="profile one extra step of these recipes (comma list; worker: flag)")
    parser.add_argument("--trace-dir", type=Path,
                        help="with --profile: write each profiled step's Chrome trace here (trace_summary.py reads it)")
    parser.add_argument("--worker", choices=sorted(RECIPES))
    parser.add_argument("--build", action="store_true", help=argparse.SUPPRESS)  # the child that builds
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--print", type=Path, help="print the table of a saved --out file and exit")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args)
        return
    if args.build:
        build_model(args.model_dir)
        build_data(args.data_dir, rows=args.rows, seed=3407)
        return
    if args.print:
        saved = json.loads(args.print.read_text())
        for key in ("max_seq_length", "steps", "warmup", "memory_cap_gib"):
            setattr(args, key, type(getattr(args, key))(saved["args"][key]))
        print_table(saved["results"], args)
        return
    rows = 8 * args.steps * 2
    # named by its size, so a set cached by a run with fewer steps is not reused
    args.data_dir = args.data_dir or Path(f"/tmp/qwen3lab-bench-mix-{rows}")
    run_build(args, rows)
    results = []
    for name in args.recipes.split(","):
        start = time.perf_counter()
        results.extend(run_with_fallback(name, args))
        print(f"recipe {name}: {time.perf_counter() - start:.0f} s wall", flush=True)
        if args.out:  # after every recipe, so a run cut short keeps what it measured
            write_json(args.out, {"args": {k: str(v) for k, v in vars(args).items()}, "results": results})
    print_table(results, args)


if __name__ == "__main__":
    main()
