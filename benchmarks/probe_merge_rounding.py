"""How far merging LoRA into 16-bit weights moves the logits, as notebook 06's merge check sees it.

    python benchmarks/probe_merge_rounding.py [--widths 256 512 1024] [--dtype bfloat16] [--b-std 0.01]

A random Qwen3 at the 8B's depth (36 layers, its vocabulary) at each width, in ``--dtype``, with
LoRA (r 32, alpha 32, the seven projections; PEFT keeps its weights in float32) whose B matrices
are drawn with ``--b-std``. Notebook 06's probe logits (``q.probe_logits``) of the model with the
adapter unmerged, then after ``merge_and_unload`` (W + BA rounded to ``--dtype``), both through
plain transformers and PEFT: the difference is the merge's rounding alone, printed as a share of
the largest |logit| beside ``q.merge_tolerance``. CPU; about a minute per width up to 1024.
"""

from __future__ import annotations

import argparse

import qwen3lab as q

q.bootstrap()  # Unsloth before transformers, as a notebook's first cell
import torch  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--dtype", choices=("bfloat16", "float16"), default="bfloat16")
    parser.add_argument("--b-std", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer, Qwen3Config, Qwen3ForCausalLM

    cfg = q.get_config()
    tokenizer = AutoTokenizer.from_pretrained(str(q.build_tiny_model(cfg)))  # the real Qwen3 tokenizer
    dtype = getattr(torch, args.dtype)
    print(f"{'width':>6} {'max |logit|':>12} {'merged - unmerged':>18} {'share':>7} {'adapter effect':>15} {'tolerance':>10}")
    for width in args.widths:
        torch.manual_seed(args.seed)
        config = Qwen3Config(vocab_size=151936, hidden_size=width, intermediate_size=3 * width, num_hidden_layers=36,
                             num_attention_heads=4, num_key_value_heads=2, head_dim=width // 4,
                             tie_word_embeddings=False, initializer_range=0.02)
        model = get_peft_model(Qwen3ForCausalLM(config).to(dtype).eval(),
                               LoraConfig(r=32, lora_alpha=32, lora_dropout=0.0, target_modules=list(cfg.target_modules)))
        generator = torch.Generator().manual_seed(args.seed + 1)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "lora_B" in name:
                    p.copy_(torch.randn(p.shape, generator=generator) * args.b_std)
        unmerged = q.probe_logits(model, tokenizer)
        with model.disable_adapter():
            base = q.probe_logits(model, tokenizer)
        merged = q.probe_logits(model.merge_and_unload(), tokenizer)
        top, diff = float(unmerged.abs().max()), q.max_logit_diff(merged, unmerged)
        print(f"{width:>6} {top:>12.4g} {diff:>18.4g} {diff / top:>7.2%} {q.max_logit_diff(base, unmerged):>15.4g} "
              f"{q.merge_tolerance(unmerged, dtype):>10.4g}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
