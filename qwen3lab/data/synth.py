"""Synthetic rows in the exact schemas of the two Hub data sets the workshop fine-tunes on.

``synth_reasoning`` writes rows shaped like ``unsloth/OpenMathReasoning-mini`` (split ``cot``);
``synth_chat`` writes rows shaped like ``mlabonne/FineTome-100k``. Every word is ours: the
text comes from templates and a seeded ``random.Random``, and every math answer is computed,
so ``expected_answer`` always equals the ``\\boxed{...}`` at the end of the solution.

``scale="full"`` reproduces the lengths of the real data (for the CPU data-pipeline benchmark
and for length filtering at realistic sizes); ``scale="small"`` gives short rows for the
bundled fixtures, which a tiny model trains on on a CPU in seconds.

Introduced in 03_dataset_cleaning.
"""

# What ``scale="full"`` aims at, and where the figures come from (looked up, not copied: no row
# of either real data set is reproduced here). Token counts are Qwen3-tokenizer tokens of a
# row rendered with the Qwen3 chat template.
#
# unsloth/OpenMathReasoning-mini, split ``cot``: 19,252 rows; its parquet file is 105.9 MB
#   (Hub file listing), about 5.5 KB per row compressed. The parent nvidia/OpenMathReasoning
#   compresses about 2.3x (49.6 GB of parquet for 114.4 GB of data, its dataset card), so about
#   12-13 KB of text per row, nearly all of it ``generated_solution``. (The mini card's
#   ``num_bytes``, 22.4 KB per row, is the parent's average carried over by the subset, not a
#   measurement of the mini set.) Unsloth's Qwen3 GRPO notebook keeps only 63 of its 7,507
#   numeric-answer rows under 1,024 tokens (system prompt included; public write-ups of that
#   notebook), so about 1% of the rows are short; the AIMO-2 paper (arXiv 2504.16891) capped
#   generation at 16,384 tokens. Target: median ~3,300 tokens, mean ~3,900, p95 ~8,000,
#   max < 16,384, ~1% under 1,000. Measured on all 19,252 rows of ``synth_reasoning(19252)``:
#   median 3,362, mean 3,838, p95 7,930, max 15,168, 0.9% under 1,000.
#   Categorical values (dataset cards and viewer excerpts): problem_type
#   has_answer_extracted / no_answer_extracted / converted_proof; problem_source
#   aops_c4_high_school_math / aops_c5_contests_amp_programs / aops_c6_high_school_olympiads /
#   aops_c7_college_math; generation_model DeepSeek-R1 / QwQ-32B; pass_rate_72b_tir a multiple
#   of 1/32 written as a string ("0.65625"), "n/a" when no answer was extracted; inference_mode
#   "cot". The mix of problem types and sources below is our estimate.
#
# mlabonne/FineTome-100k: 100,000 rows, 244.5 MB decoded (datasets-server /size), about 2.4 KB
#   per row, i.e. ~550-600 tokens on average. Turns per row (datasets-server /statistics):
#   min 2, median 2, mean 2.93, max 62: mostly one exchange, some multi-turn, some rows with a
#   leading system turn. ``score`` is the fineweb-edu classifier's raw output: 3.7357 to 5.2126,
#   mean 3.965, median 3.9125 (right-skewed), float32 values. ``source`` has nine values, with
#   counts infini-instruct-top-500k 42,540, WebInstructSub_axolotl 23,747,
#   ultrainteract_trajectories_sharegpt 16,854, self-instruct-sharegpt 5,223,
#   glaive-function-calling-v2-sharegpt 3,375, reasoning-sharegpt 3,318, airoboros-3.2 2,046,
#   systemchat-2.0-sharegpt 1,593, financial-instructions-cleaned-2 1,304 (the same
#   /statistics, as quoted in a public data card of the set). Target: median ~430 tokens,
#   mean ~600, p95 ~1,600, a long tail; we keep 1-4 exchanges. Measured on all 100,000 rows of
#   ``synth_chat(100000)``: median 417, mean 580, p95 1,528, p99 2,072, max 4,777; 2.95 turns
#   per row (median 2); score mean 3.965, median 3.913. The real set is English; ours is about
#   half Chinese on purpose, for a bilingual workshop.
#
# scale="small" (the fixtures): reasoning rows ~170-550 tokens, chat rows ~40-700 tokens.

from __future__ import annotations

import contextlib
import gc
import json
import math
import random
import struct
from fractions import Fraction
from typing import Any, Callable, Sequence

#: Column order of ``unsloth/OpenMathReasoning-mini`` (split ``cot``).
REASONING_COLUMNS = ("expected_answer", "problem_type", "problem_source", "generation_model",
                     "pass_rate_72b_tir", "problem", "generated_solution", "inference_mode")
#: Column order of ``mlabonne/FineTome-100k``.
CHAT_COLUMNS = ("conversations", "source", "score")
#: The accepted values of ``scale``.
SCALES = ("full", "small")

__all__ = ["CHAT_COLUMNS", "REASONING_COLUMNS", "SCALES", "synth_chat", "synth_reasoning"]

# Characters per Qwen3 token of our own text, measured on generated rows with the real
# tokenizer; used to turn the token targets above into character budgets.
_CPT_MATH = (2.85, 1.37)   # (English, Chinese) reasoning traces
_CPT_CHAT = (3.55, 1.76)    # (English, Chinese) chat answers
# Digit-heavy traces pack more tokens per character (Qwen3 splits numbers into digits): these
# character caps keep every full-scale solution under the 16,384-token generation limit.
_MAX_MATH_CHARS = (37_000, 15_500)


def _check_args(n: int, scale: str) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")


@contextlib.contextmanager
def _gc_paused():
    """Pause the cyclic GC while building rows: 100,000 rows of nested dicts otherwise trigger
    repeated full collections that cost more than the generation itself."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _pick(rng: random.Random, seq: Sequence[Any]) -> Any:
    return seq[int(rng.random() * len(seq))]


def _ri(rng: random.Random, lo: int, hi: int) -> int:
    """An int in [lo, hi] (like ``randint``, with one ``random()`` call, which is faster)."""
    return lo + int(rng.random() * (hi - lo + 1))


def _weighted(rng: random.Random, items: Sequence[Any], cum: Sequence[float]) -> Any:
    """One of ``items`` by cumulative weights ``cum`` (last value = total)."""
    x = rng.random() * cum[-1]
    for item, c in zip(items, cum):
        if x < c:
            return item
    return items[-1]


def _cumulative(weights: Sequence[float]) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def _lognormal_int(rng: random.Random, median: float, sigma: float, lo: int, hi: int) -> int:
    v = median * math.exp(rng.gauss(0.0, sigma))
    return int(min(max(v, lo), hi))


# -- numbers -------------------------------------------------------------------------------

def _dec(x: Fraction | int) -> str:
    """A number as an integer, a terminating decimal (up to 4 places) or a LaTeX fraction."""
    if isinstance(x, int):
        return str(x)
    num, den = x.numerator, x.denominator
    if den == 1:
        return str(num)
    sign = "-" if num < 0 else ""
    num = abs(num)
    e2 = e5 = 0
    d = den
    while d % 2 == 0:
        d //= 2
        e2 += 1
    while d % 5 == 0:
        d //= 5
        e5 += 1
    places = max(e2, e5)
    if d == 1 and places <= 4:
        whole, frac = divmod(num * (10 ** places // den), 10 ** places)
        return f"{sign}{whole}.{frac:0{places}d}"
    return f"{sign}\\frac{{{num}}}{{{den}}}"


def _frac(x: Fraction | int) -> str:
    """A number as an integer or a LaTeX fraction (never a decimal)."""
    if isinstance(x, int):
        return str(x)
    num, den = x.numerator, x.denominator
    if den == 1:
        return str(num)
    return f"{'-' if num < 0 else ''}\\frac{{{abs(num)}}}{{{den}}}"


def _signed(c: int, var: str, first: bool) -> str:
    """``c*var`` as a term of a sum: '3x', '- x', '+ 2y' ..."""
    if c == 0:
        return ""
    mag = abs(c)
    body = (var if mag == 1 else f"{mag}{var}") if var else str(mag)
    if first:
        return ("-" if c < 0 else "") + body
    return (" - " if c < 0 else " + ") + body


def _expr(terms: Sequence[tuple[int, str]]) -> str:
    """A sum of (coefficient, variable) terms, zero terms dropped: 2x^2 - 5x + 3."""
    out = ""
    for c, var in terms:
        if c:
            out += _signed(c, var, not out)
    return out or "0"


def _paren(v: int) -> str:
    return f"({v})" if v < 0 else str(v)


def _ordinal_en(k: int) -> str:
    if 10 <= k % 100 <= 20:
        return f"{k}th"
    return f"{k}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th') }"


# -- people and things ---------------------------------------------------------------------

_NAMES = (
    ("Alice", "Ben", "Chloe", "David", "Emma", "Farid", "Grace", "Hiro", "Isabel", "Jamal",
     "Kate", "Liam", "Maya", "Noah", "Olivia", "Priya", "Quinn", "Ravi", "Sofia", "Tom",
     "Uma", "Victor", "Wen", "Yara", "Zoe", "Mateo", "Lena", "Omar", "Nina", "Sam"),
    ("小明", "小红", "李华", "王芳", "张伟", "刘洋", "陈静", "杨磊", "赵敏", "黄婷", "周杰",
     "吴昊", "徐丽", "孙强", "马超", "朱琳", "胡斌", "林悦", "何平", "高翔", "罗雪", "郑凯",
     "梁爽", "宋佳", "唐宁", "韩梅", "冯涛", "邓雨", "曹阳", "彭飞"),
)

# (English singular, English plural, Chinese noun, Chinese classifier)
_ITEMS = (
    ("notebook", "notebooks", "笔记本", "本"), ("pen", "pens", "钢笔", "支"),
    ("apple", "apples", "苹果", "个"), ("sandwich", "sandwiches", "三明治", "个"),
    ("movie ticket", "movie tickets", "电影票", "张"), ("comic book", "comic books", "漫画书", "本"),
    ("mug", "mugs", "马克杯", "个"), ("T-shirt", "T-shirts", "T恤", "件"),
    ("candle", "candles", "蜡烛", "支"), ("potted plant", "potted plants", "盆栽", "盆"),
    ("bottle of juice", "bottles of juice", "果汁", "瓶"),
    ("box of crayons", "boxes of crayons", "蜡笔", "盒"),
    ("pair of socks", "pairs of socks", "袜子", "双"), ("loaf of bread", "loaves of bread", "面包", "袋"),
    ("badminton racket", "badminton rackets", "羽毛球拍", "副"), ("umbrella", "umbrellas", "雨伞", "把"),
)


_GOODS = (  # things that go on sale: (English, Chinese, Chinese classifier)
    ("jacket", "夹克", "件"), ("bicycle", "自行车", "辆"), ("pair of headphones", "耳机", "副"),
    ("desk lamp", "台灯", "盏"), ("backpack", "背包", "个"), ("coffee machine", "咖啡机", "台"),
    ("tennis racket", "网球拍", "支"), ("electric kettle", "电热水壶", "个"),
    ("winter coat", "冬季大衣", "件"), ("pair of running shoes", "跑鞋", "双"),
)
_ZHE = {10: "九", 15: "八五", 20: "八", 25: "七五", 30: "七", 40: "六", 50: "五"}


# -- problem families ----------------------------------------------------------------------
#
# Each family draws numbers from the RNG, computes the answer exactly (``Fraction``) and
# returns a ``_Prob``: the problem text, the answer as it is boxed, the core solution steps,
# verification sentences, an alternative method, and the integer operations behind the steps
# (the long traces re-check those by hand, as real reasoning traces do).

class _Prob:
    __slots__ = ("problem", "answer", "steps", "checks", "ops", "target", "alt")

    def __init__(self, problem: str, answer: str, steps: list[str], checks: list[str],
                 ops: list[tuple[str, int, int]], target: str, alt: list[str]) -> None:
        self.problem, self.answer, self.steps, self.checks = problem, answer, steps, checks
        self.ops, self.target, self.alt = ops, target, alt


def _f_shopping(rng: random.Random, zh: int) -> _Prob:
    name = _pick(rng, _NAMES[zh])
    i1 = _pick(rng, _ITEMS)
    i2 = _pick(rng, _ITEMS)
    while i2 is i1:
        i2 = _pick(rng, _ITEMS)
    n1, p1, n2, p2 = _ri(rng, 2, 12), _ri(rng, 2, 30), _ri(rng, 2, 9), _ri(rng, 3, 45)
    c1, c2 = n1 * p1, n2 * p2
    tot = c1 + c2
    bill = next(b for b in (20, 50, 100, 200, 500, 1000) if b > tot)
    chg = bill - tot
    ask_change = rng.random() < 0.7
    ops = [("*", n1, p1), ("*", n2, p2), ("+", c1, c2)]
    if zh:
        a1, a2 = i1[2], i2[2]
        if ask_change:
            problem = _pick(rng, (
                "{name}买了{n1}{k1}{a1}，每{k1}{p1}元，又买了{n2}{k2}{a2}，每{k2}{p2}元。{name}付了{bill}元，应找回多少元？",
                "学校义卖会上，{name}以每{k1}{p1}元的价格买了{n1}{k1}{a1}，又以每{k2}{p2}元的价格买了{n2}{k2}{a2}。如果{name}付了{bill}元，应该找回多少元？",
                "商店里{a1}每{k1}{p1}元，{a2}每{k2}{p2}元。{name}拿了{n1}{k1}{a1}和{n2}{k2}{a2}，交给收银员{bill}元。应找零多少元？",
            ))
            target = "应找回的钱数"
        else:
            problem = _pick(rng, (
                "{name}买了{n1}{k1}{a1}（每{k1}{p1}元）和{n2}{k2}{a2}（每{k2}{p2}元），一共要花多少元？",
                "{n1}{k1}单价{p1}元的{a1}加上{n2}{k2}单价{p2}元的{a2}，总价是多少元？",
            ))
            target = "总花费"
        steps = [f"{a1}的费用是 \\({n1} \\times {p1} = {c1}\\) 元。",
                 f"{a2}的费用是 \\({n2} \\times {p2} = {c2}\\) 元。",
                 f"总共花费 \\({c1} + {c2} = {tot}\\) 元。"]
        if ask_change:
            steps.append(f"应找回 \\({bill} - {tot} = {chg}\\) 元。")
            checks = [f"验算：\\({tot} + {chg} = {bill}\\)，正好等于付的钱。"]
            alt = [f"也可以从付款中依次减去两笔费用：\\({bill} - {c1} = {bill - c1}\\)，再 \\({bill - c1} - {c2} = {chg}\\)。"]
        else:
            checks = [f"估算一下：大约是 \\({n1} \\times {p1}\\) 加上 \\({n2} \\times {p2}\\)，{tot} 这个数量级是合理的。"]
            alt = [f"也可以先算{a2}再算{a1}：\\({c2} + {c1} = {tot}\\)，结果一样。"]
    else:
        a1, a2 = i1[1], i2[1]
        if ask_change:
            problem = _pick(rng, (
                "{name} buys {n1} {a1} at \\${p1} each and {n2} {a2} at \\${p2} each, paying with a \\${bill} bill. How much change does {name} receive, in dollars?",
                "At a school fair, {name} bought {n1} {a1} for \\${p1} apiece and {n2} {a2} for \\${p2} apiece. If {name} paid with \\${bill}, how many dollars of change were returned?",
                "A shop sells {a1} for \\${p1} each and {a2} for \\${p2} each. {name} takes {n1} {a1} and {n2} {a2} and hands the cashier \\${bill}. What is the change, in dollars?",
            ))
            target = f"the change {name} receives"
        else:
            problem = _pick(rng, (
                "{name} buys {n1} {a1} at \\${p1} each and {n2} {a2} at \\${p2} each. How much does {name} spend in total, in dollars?",
                "What is the total cost, in dollars, of {n1} {a1} priced at \\${p1} each together with {n2} {a2} priced at \\${p2} each?",
            ))
            target = "the total cost"
        steps = [f"The {a1} cost \\({n1} \\times {p1} = {c1}\\) dollars.",
                 f"The {a2} cost \\({n2} \\times {p2} = {c2}\\) dollars.",
                 f"Altogether that is \\({c1} + {c2} = {tot}\\) dollars."]
        if ask_change:
            steps.append(f"The change is \\({bill} - {tot} = {chg}\\) dollars.")
            checks = [f"Check: \\({tot} + {chg} = {bill}\\), which is exactly the amount paid."]
            alt = [f"Another way: take each purchase off the {bill} in turn. \\({bill} - {c1} = {bill - c1}\\), then \\({bill - c1} - {c2} = {chg}\\)."]
        else:
            checks = [f"Rough check: {n1} items at about {p1} and {n2} items at about {p2} should land near {tot}, so the size is right."]
            alt = [f"Adding in the other order, \\({c2} + {c1} = {tot}\\), gives the same total."]
    if ask_change:
        ops.append(("-", bill, tot))
    ans = chg if ask_change else tot
    return _Prob(problem.format(name=name, n1=n1, n2=n2, p1=p1, p2=p2, bill=bill, a1=a1, a2=a2,
                                k1=i1[3], k2=i2[3]),
                 str(ans), steps, checks, ops, target, alt)


def _f_discount(rng: random.Random, zh: int) -> _Prob:
    name = _pick(rng, _NAMES[zh])
    good = _pick(rng, _GOODS)
    P = 20 * _ri(rng, 2, 30)
    d = _pick(rng, (10, 15, 20, 25, 30, 40, 50))
    e = _pick(rng, (5, 10, 15, 20))
    f1, f2 = Fraction(100 - d, 100), Fraction(100 - e, 100)
    sale = P * f1
    final = sale * f2
    saved = P - final
    pct = saved / P * 100
    if zh:
        problem = _pick(rng, (
            f"一{good[2]}{good[1]}原价{P}元。促销期间打{_ZHE[d]}折，会员在促销价的基础上再减{e}\\%。会员最终需要支付多少元？",
            f"{name}想买一{good[2]}原价{P}元的{good[1]}。商店先降价{d}\\%，{name}又用一张优惠券在降价后的价格上再减{e}\\%。最终价格是多少元？",
        ))
        steps = [f"降价{d}\\%后的价格是 \\({P} \\times {_dec(f1)} = {_dec(sale)}\\) 元。",
                 f"再减{e}\\%，价格变为 \\({_dec(sale)} \\times {_dec(f2)} = {_dec(final)}\\) 元。"]
        checks = [f"验算：一共便宜了 \\({P} - {_dec(final)} = {_dec(saved)}\\) 元，占原价的 {_dec(pct)}\\%，比 {d + e}\\% 少一些，因为第二次折扣是在更低的价格上打的。"]
        alt = [f"也可以把两个折扣系数先乘起来：\\({_dec(f1)} \\times {_dec(f2)} = {_dec(f1 * f2)}\\)，再算 \\({P} \\times {_dec(f1 * f2)} = {_dec(final)}\\)。"]
        target = "最终支付的价格"
    else:
        problem = _pick(rng, (
            f"A {good[0]} is priced at \\${P}. During a sale it is marked down by {d}\\%, and club members get an extra {e}\\% off the sale price. How much does a club member pay, in dollars?",
            f"{name} wants a {good[0]} that normally costs \\${P}. The store takes {d}\\% off, and then {name} uses a coupon for {e}\\% off the reduced price. What is the final price in dollars?",
        ))
        steps = [f"After the {d}\\% markdown the price is \\({P} \\times {_dec(f1)} = {_dec(sale)}\\) dollars.",
                 f"Taking a further {e}\\% off leaves \\({_dec(sale)} \\times {_dec(f2)} = {_dec(final)}\\) dollars."]
        checks = [f"Check: the total saving is \\({P} - {_dec(final)} = {_dec(saved)}\\) dollars, which is {_dec(pct)}\\% of the original price. That is a bit less than {d + e}\\%, as it should be, because the second discount applies to a smaller amount."]
        alt = [f"Equivalently, combine the two factors first: \\({_dec(f1)} \\times {_dec(f2)} = {_dec(f1 * f2)}\\), and \\({P} \\times {_dec(f1 * f2)} = {_dec(final)}\\)."]
        target = "the final price"
    return _Prob(problem, _dec(final), steps, checks, [("*", P, 100 - d), ("*", 100 - d, 100 - e)], target, alt)


def _f_percent_change(rng: random.Random, zh: int) -> _Prob:
    A = 20 * _ri(rng, 1, 30)
    up = rng.random() < 0.6
    k = _pick(rng, (5, 10, 15, 20, 25, 30, 40, 50, 60, 75, 120) if up else (5, 10, 15, 20, 25, 30, 40, 45, 60, 75))
    delta = A * k // 100
    B = A + delta if up else A - delta
    ctx = _pick(rng, ((("the number of members of a chess club", "members"), ("象棋社的成员人数", "人")),
                      (("the price of a concert ticket", "dollars"), ("一张音乐会门票的价格", "元")),
                      (("the number of visitors to a museum in one day", "visitors"), ("博物馆一天的参观人数", "人")),
                      (("a town's monthly water use", "cubic meters"), ("某镇每月的用水量", "立方米")),
                      (("the weight of a parcel", "grams"), ("一个包裹的重量", "克"))))
    what, unit = ctx[zh]
    if zh:
        verb = "增加" if up else "减少"
        problem = f"{what}从{A}{unit}变为{B}{unit}。它{verb}了百分之几？"
        steps = [f"变化量是 \\({B} - {A} = {B - A}\\) {unit}。" if up else f"变化量是 \\({A} - {B} = {A - B}\\) {unit}。",
                 f"用变化量除以原来的数：\\(\\frac{{{delta}}}{{{A}}} = {_dec(Fraction(delta, A))}\\)。",
                 f"换成百分数就是 {k}\\%，所以{verb}了 {k}\\%。"]
        checks = [f"验算：\\({A} \\times {k}\\% = {delta}\\)，\\({A} {'+' if up else '-'} {delta} = {B}\\)，正确。"]
        alt = [f"也可以算比值：\\(\\frac{{{B}}}{{{A}}} = {_dec(Fraction(B, A))}\\)，与 1 相差 {_dec(Fraction(k, 100))}，也就是 {k}\\%。"]
        target = f"{verb}的百分比"
    else:
        verb = "increase" if up else "decrease"
        problem = _pick(rng, (f"{what.capitalize()} changed from {A} to {B} {unit}. By what percent did it {verb}?",
                              f"Over one year, {what} went from {A} {unit} to {B} {unit}. What was the percent {verb}?"))
        steps = [f"The change is \\({max(A, B)} - {min(A, B)} = {delta}\\) {unit}.",
                 f"Relative to the starting value that is \\(\\frac{{{delta}}}{{{A}}} = {_dec(Fraction(delta, A))}\\).",
                 f"As a percentage, that is a {k}\\% {verb}."]
        checks = [f"Check: \\({k}\\%\\) of {A} is \\({delta}\\), and \\({A} {'+' if up else '-'} {delta} = {B}\\). Correct."]
        alt = [f"Alternatively, the ratio \\(\\frac{{{B}}}{{{A}}} = {_dec(Fraction(B, A))}\\) differs from 1 by {_dec(Fraction(k, 100))}, i.e. {k}\\%."]
        target = f"the percent {verb}"
    return _Prob(problem, f"{k}\\%", steps, checks, [("-", max(A, B), min(A, B)), ("*", delta, 100)], target, alt)


def _f_linear(rng: random.Random, zh: int) -> _Prob:
    x = _ri(rng, -12, 12)
    a = _ri(rng, 1, 9)
    c = _ri(rng, 1, 9)
    while c == a:
        c = _ri(rng, 1, 9)
    b = _ri(rng, -20, 20)
    d = a * x + b - c * x
    eq = f"{_expr([(a, 'x'), (b, '')])} = {_expr([(c, 'x'), (d, '')])}"
    m, q = _ri(rng, 2, 7), _ri(rng, -9, 9)
    ask_expr = rng.random() < 0.3
    lhs2 = _expr([(a - c, 'x'), (b, '')])
    if zh:
        if ask_expr:
            problem = f"已知 \\({eq}\\)，求 \\({_expr([(m, 'x'), (q, '')])}\\) 的值。"
            target = f"\\({_expr([(m, 'x'), (q, '')])}\\) 的值"
        else:
            problem = _pick(rng, (f"解方程：\\({eq}\\)。", f"求满足 \\({eq}\\) 的 \\(x\\) 的值。", f"已知 \\({eq}\\)，求 \\(x\\)。"))
            target = "\\(x\\) 的值"
        steps = [f"把含 \\(x\\) 的项移到左边：\\({lhs2} = {d}\\)。",
                 f"把常数项移到右边：\\({_expr([(a - c, 'x')])} = {d} - {_paren(b)} = {d - b}\\)。",
                 f"两边同除以 \\({a - c}\\)，得 \\(x = {x}\\)。"]
        if ask_expr:
            steps.append(f"于是 \\({_expr([(m, 'x'), (q, '')])} = {m} \\times {_paren(x)} + {_paren(q)} = {m * x + q}\\)。")
        checks = [f"代回检验：左边 \\({a} \\times {_paren(x)} + {_paren(b)} = {a * x + b}\\)，右边 \\({c} \\times {_paren(x)} + {_paren(d)} = {c * x + d}\\)，两边相等。"]
        alt = [f"也可以把右边的项移到左边：\\({_expr([(a - c, 'x'), (b - d, '')])} = 0\\)，同样得到 \\(x = {x}\\)。"]
    else:
        if ask_expr:
            problem = f"If \\({eq}\\), what is the value of \\({_expr([(m, 'x'), (q, '')])}\\)?"
            target = f"the value of \\({_expr([(m, 'x'), (q, '')])}\\)"
        else:
            problem = _pick(rng, (f"Solve for \\(x\\): \\({eq}\\).", f"Find the value of \\(x\\) that satisfies \\({eq}\\).",
                                  f"If \\({eq}\\), what is \\(x\\)?"))
            target = "the value of \\(x\\)"
        steps = [f"Move the \\(x\\)-terms to the left side: \\({lhs2} = {d}\\).",
                 f"Move the constant to the right side: \\({_expr([(a - c, 'x')])} = {d} - {_paren(b)} = {d - b}\\).",
                 f"Divide both sides by \\({a - c}\\): \\(x = {x}\\)."]
        if ask_expr:
            steps.append(f"Then \\({_expr([(m, 'x'), (q, '')])} = {m} \\cdot {_paren(x)} + {_paren(q)} = {m * x + q}\\).")
        checks = [f"Check: the left side is \\({a} \\cdot {_paren(x)} + {_paren(b)} = {a * x + b}\\) and the right side is \\({c} \\cdot {_paren(x)} + {_paren(d)} = {c * x + d}\\). They agree."]
        alt = [f"Alternatively, bring everything to one side: \\({_expr([(a - c, 'x'), (b - d, '')])} = 0\\), which again gives \\(x = {x}\\)."]
    ops = ([("*", a, abs(x)), ("*", c, abs(x))] if x else []) + [("-", max(d, b), min(d, b)), ("/", abs(d - b), abs(a - c))]
    return _Prob(problem, str(m * x + q if ask_expr else x), steps, checks, ops, target, alt)


def _f_ages(rng: random.Random, zh: int) -> _Prob:
    for _ in range(200):
        m = _ri(rng, 2, 3)
        k = _ri(rng, m + 1, 7)
        j = _ri(rng, 1, 8)
        x, t = (m - 1) * j, j * (k - m)
        if 3 <= x <= 16 and 2 <= t <= 30 and 24 <= k * x <= 75:
            break
    else:  # pragma: no cover - the loop always finds a case
        m, k, x, t = 2, 3, 12, 12
    A = _pick(rng, _NAMES[zh])
    B = _pick(rng, _NAMES[zh])
    while B == A:
        B = _pick(rng, _NAMES[zh])
    if zh:
        rel = _pick(rng, ("", "（{A}是{B}的妈妈）", "（{A}是{B}的爸爸）", "（{A}是{B}的姑姑）")).format(A=A, B=B)
        problem = f"{A}的年龄是{B}的{k}倍{rel}。{t}年后，{A}的年龄将是{B}的{m}倍。{B}现在几岁？"
        steps = [f"设{B}现在 \\(x\\) 岁，则{A}现在 \\({k}x\\) 岁。",
                 f"{t}年后两人分别是 \\({k}x + {t}\\) 岁和 \\(x + {t}\\) 岁，所以 \\({k}x + {t} = {m}(x + {t})\\)。",
                 f"展开得 \\({k}x + {t} = {m}x + {m * t}\\)，即 \\({k - m}x = {m * t - t}\\)。",
                 f"所以 \\(x = {x}\\)。"]
        checks = [f"验算：现在{A} {k * x} 岁、{B} {x} 岁；{t}年后分别是 {k * x + t} 岁和 {x + t} 岁，\\({x + t} \\times {m} = {m * (x + t)}\\)，正好是{m}倍。"]
        alt = [f"换个角度：两人的年龄差始终是 \\({k * x} - {x} = {(k - 1) * x}\\) 岁。{t}年后{A}是{B}的{m}倍，年龄差是{B}那时年龄的 {m - 1} 倍，所以{B}那时 {x + t} 岁，现在 {x} 岁。"]
        target = f"{B}现在的年龄"
    else:
        problem = _pick(rng, (f"{A} is {k} times as old as {B}. In {t} years, {A} will be {m} times as old as {B}. How old is {B} now?",
                              f"Today {A}'s age is {k} times {B}'s age. {t} years from now, {A}'s age will be {m} times {B}'s. Find {B}'s current age."))
        steps = [f"Let {B}'s age now be \\(x\\); then {A} is \\({k}x\\).",
                 f"In {t} years the ages are \\({k}x + {t}\\) and \\(x + {t}\\), so \\({k}x + {t} = {m}(x + {t})\\).",
                 f"Expanding, \\({k}x + {t} = {m}x + {m * t}\\), so \\({k - m}x = {m * t - t}\\).",
                 f"Hence \\(x = {x}\\)."]
        checks = [f"Check: now {A} is {k * x} and {B} is {x}; in {t} years they are {k * x + t} and {x + t}, and \\({m} \\times {x + t} = {m * (x + t)}\\). It works."]
        alt = [f"Another view: the age gap never changes and equals \\({k * x} - {x} = {(k - 1) * x}\\). When {A} is {m} times as old, the gap is {m - 1} times {B}'s age then, so {B} will be {x + t}, i.e. {x} now."]
        target = f"{B}'s current age"
    return _Prob(problem, str(x), steps, checks, [("*", k, x), ("+", k * x, t), ("+", x, t), ("*", m, x + t)], target, alt)


def _f_system(rng: random.Random, zh: int) -> _Prob:
    kind = rng.random()
    if kind < 0.35:  # word problem: chickens and rabbits / tickets
        if rng.random() < 0.5:
            r, c = _ri(rng, 3, 40), _ri(rng, 3, 40)
            H, L = r + c, 4 * r + 2 * c
            if zh:
                problem = f"笼子里有若干只鸡和兔，从上面数有{H}个头，从下面数有{L}只脚。兔子有多少只？"
                steps = [f"设兔有 \\(r\\) 只，鸡有 \\(c\\) 只，则 \\(r + c = {H}\\)，\\(4r + 2c = {L}\\)。",
                         f"第一个方程乘以 2：\\(2r + 2c = {2 * H}\\)。",
                         f"两式相减：\\(2r = {L} - {2 * H} = {L - 2 * H}\\)，所以 \\(r = {r}\\)。",
                         f"鸡有 \\({H} - {r} = {c}\\) 只。"]
                checks = [f"验算：\\({r} \\times 4 + {c} \\times 2 = {4 * r} + {2 * c} = {L}\\)，头数 \\({r} + {c} = {H}\\)，都对。"]
                alt = [f"假设全是鸡，应有 \\({H} \\times 2 = {2 * H}\\) 只脚，实际多了 \\({L} - {2 * H} = {L - 2 * H}\\) 只；每只兔比鸡多 2 只脚，所以兔有 \\({L - 2 * H} \\div 2 = {r}\\) 只。"]
                target = "兔子的只数"
            else:
                problem = f"A farm keeps chickens and rabbits. Together they have {H} heads and {L} legs. How many rabbits are there?"
                steps = [f"Let \\(r\\) be the number of rabbits and \\(c\\) the number of chickens: \\(r + c = {H}\\) and \\(4r + 2c = {L}\\).",
                         f"Doubling the first equation gives \\(2r + 2c = {2 * H}\\).",
                         f"Subtracting, \\(2r = {L} - {2 * H} = {L - 2 * H}\\), so \\(r = {r}\\).",
                         f"That leaves \\({H} - {r} = {c}\\) chickens."]
                checks = [f"Check: \\(4 \\cdot {r} + 2 \\cdot {c} = {4 * r} + {2 * c} = {L}\\) legs and \\({r} + {c} = {H}\\) heads."]
                alt = [f"If all {H} animals were chickens there would be {2 * H} legs; the extra \\({L} - {2 * H} = {L - 2 * H}\\) legs come two per rabbit, so there are \\({L - 2 * H} / 2 = {r}\\) rabbits."]
                target = "the number of rabbits"
            return _Prob(problem, str(r), steps, checks, [("*", 4, r), ("*", 2, c), ("*", 2, H), ("-", L, 2 * H)], target, alt)
        pa = _ri(rng, 8, 25)
        pc = _ri(rng, 3, pa - 2)
        a, c = _ri(rng, 10, 200), _ri(rng, 10, 200)
        N, R = a + c, pa * a + pc * c
        if zh:
            problem = f"某剧院一场演出共售出{N}张票，收入{R}元。成人票每张{pa}元，儿童票每张{pc}元。售出了多少张成人票？"
            steps = [f"设成人票 \\(a\\) 张，则儿童票 \\({N} - a\\) 张。",
                     f"收入方程：\\({pa}a + {pc}({N} - a) = {R}\\)。",
                     f"化简：\\({pa - pc}a + {pc * N} = {R}\\)，所以 \\({pa - pc}a = {R - pc * N}\\)。",
                     f"因此 \\(a = {a}\\)。"]
            checks = [f"验算：儿童票 {c} 张，\\({pa} \\times {a} + {pc} \\times {c} = {pa * a} + {pc * c} = {R}\\)。"]
            alt = [f"假设全是儿童票，收入应为 \\({pc} \\times {N} = {pc * N}\\) 元，少了 \\({R - pc * N}\\) 元；每张成人票多 {pa - pc} 元，所以成人票 \\({R - pc * N} \\div {pa - pc} = {a}\\) 张。"]
            target = "成人票的张数"
        else:
            problem = f"A theater sold {N} tickets for a total of \\${R}. Adult tickets cost \\${pa} and child tickets cost \\${pc}. How many adult tickets were sold?"
            steps = [f"Let \\(a\\) be the number of adult tickets; then \\({N} - a\\) child tickets were sold.",
                     f"Revenue: \\({pa}a + {pc}({N} - a) = {R}\\).",
                     f"Simplify: \\({pa - pc}a + {pc * N} = {R}\\), so \\({pa - pc}a = {R - pc * N}\\).",
                     f"Therefore \\(a = {a}\\)."]
            checks = [f"Check: {c} child tickets, and \\({pa} \\cdot {a} + {pc} \\cdot {c} = {pa * a} + {pc * c} = {R}\\)."]
            alt = [f"If every ticket had been a child ticket the revenue would be \\({pc} \\cdot {N} = {pc * N}\\); each adult ticket adds {pa - pc} more, so \\(({R} - {pc * N}) / {pa - pc} = {a}\\) adult tickets."]
            target = "the number of adult tickets"
        return _Prob(problem, str(a), steps, checks, [("*", pa, a), ("*", pc, c), ("*", pc, N), ("-", R, pc * N)], target, alt)
    while True:
        x, y = _ri(rng, -9, 9), _ri(rng, -9, 9)
        a1, b1, a2, b2 = (_pick(rng, (-1, 1)) * _ri(rng, 1, 6) for _ in range(4))
        if a1 * b2 - a2 * b1 != 0:
            break
    c1, c2 = a1 * x + b1 * y, a2 * x + b2 * y
    e1 = f"{_expr([(a1, 'x'), (b1, 'y')])} = {c1}"
    e2 = f"{_expr([(a2, 'x'), (b2, 'y')])} = {c2}"
    ask = _pick(rng, ("pair", "sum", "prod"))
    coef_y, rhs = b1 * a2 - b2 * a1, c1 * a2 - c2 * a1
    if zh:
        q = {"pair": "求 \\((x, y)\\)。", "sum": "求 \\(x + y\\) 的值。", "prod": "求 \\(xy\\) 的值。"}[ask]
        problem = f"解方程组：\\({e1}\\)，\\({e2}\\)。{q}"
        steps = [f"第一个方程乘以 \\({a2}\\)，第二个方程乘以 \\({a1}\\)：\\({_expr([(a1 * a2, 'x'), (b1 * a2, 'y')])} = {c1 * a2}\\)，\\({_expr([(a1 * a2, 'x'), (a1 * b2, 'y')])} = {c2 * a1}\\)。",
                 f"两式相减消去 \\(x\\)：\\({_expr([(coef_y, 'y')])} = {rhs}\\)，所以 \\(y = {y}\\)。",
                 f"代入第一个方程：\\({_expr([(a1, 'x')])} = {c1} - {_paren(b1 * y)} = {c1 - b1 * y}\\)，所以 \\(x = {x}\\)。"]
        checks = [f"用第二个方程检验：\\({a2} \\times {_paren(x)} + {_paren(b2)} \\times {_paren(y)} = {a2 * x} + {_paren(b2 * y)} = {c2}\\)，成立。"]
        alt = [f"也可以用克莱姆法则：系数行列式为 \\({a1} \\cdot {_paren(b2)} - {_paren(a2)} \\cdot {_paren(b1)} = {a1 * b2 - a2 * b1}\\)，同样得到 \\(x = {x}\\)，\\(y = {y}\\)。"]
        target = {"pair": "方程组的解", "sum": "\\(x + y\\)", "prod": "\\(xy\\)"}[ask]
    else:
        q = {"pair": "Find the ordered pair \\((x, y)\\).", "sum": "What is \\(x + y\\)?", "prod": "What is \\(xy\\)?"}[ask]
        problem = f"Solve the system \\({e1}\\) and \\({e2}\\). {q}"
        steps = [f"Multiply the first equation by \\({a2}\\) and the second by \\({a1}\\): \\({_expr([(a1 * a2, 'x'), (b1 * a2, 'y')])} = {c1 * a2}\\) and \\({_expr([(a1 * a2, 'x'), (a1 * b2, 'y')])} = {c2 * a1}\\).",
                 f"Subtracting eliminates \\(x\\): \\({_expr([(coef_y, 'y')])} = {rhs}\\), so \\(y = {y}\\).",
                 f"Substituting into the first equation: \\({_expr([(a1, 'x')])} = {c1} - {_paren(b1 * y)} = {c1 - b1 * y}\\), so \\(x = {x}\\)."]
        checks = [f"Check with the second equation: \\({a2} \\cdot {_paren(x)} + {_paren(b2)} \\cdot {_paren(y)} = {a2 * x} + {_paren(b2 * y)} = {c2}\\). Correct."]
        alt = [f"Cramer's rule gives the same: the determinant is \\({a1} \\cdot {_paren(b2)} - {_paren(a2)} \\cdot {_paren(b1)} = {a1 * b2 - a2 * b1}\\), and the formulas return \\(x = {x}\\), \\(y = {y}\\)."]
        target = {"pair": "the solution \\((x, y)\\)", "sum": "\\(x + y\\)", "prod": "\\(xy\\)"}[ask]
    if ask == "sum":
        steps.append(f"\\(x + y = {x} + {_paren(y)} = {x + y}\\)" + ("。" if zh else "."))
        answer = str(x + y)
    elif ask == "prod":
        steps.append(f"\\(xy = {x} \\cdot {_paren(y)} = {x * y}\\)" + ("。" if zh else "."))
        answer = str(x * y)
    else:
        answer = f"({x}, {y})"
    return _Prob(problem, answer, steps, checks, [("*", abs(a1), abs(a2)), ("*", abs(c1), abs(a2)), ("*", abs(c2), abs(a1)), ("*", abs(b1), abs(a2)),
                  ("*", abs(a1), abs(b2)), ("/", abs(rhs), abs(coef_y)), ("*", abs(b1), abs(y)), ("*", abs(a2), abs(x))], target, alt)


def _f_quadratic(rng: random.Random, zh: int) -> _Prob:
    r1 = _ri(rng, -9, 9)
    r2 = _ri(rng, -9, 9)
    while r2 == r1:
        r2 = _ri(rng, -9, 9)
    k = _pick(rng, (1, 1, 1, 2, 3))
    b, c = -k * (r1 + r2), k * r1 * r2
    poly = _expr([(k, "x^2"), (b, "x"), (c, "")])
    D = b * b - 4 * k * c
    sq = k * abs(r1 - r2)
    hi, lo = max(r1, r2), min(r1, r2)
    asks = ["squares", "larger", "diff"] + (["recip"] if r1 and r2 else [])
    ask = _pick(rng, asks)
    s, p = r1 + r2, r1 * r2
    if ask == "squares":
        ans = str(r1 * r1 + r2 * r2)
    elif ask == "larger":
        ans = str(hi)
    elif ask == "diff":
        ans = str(hi - lo)
    else:
        ans = _frac(Fraction(s, p))
    if zh:
        q = {"squares": "求两根的平方和。", "larger": "求较大的根。", "diff": "求两根之差的绝对值。",
             "recip": "求两根倒数之和。"}[ask]
        problem = f"方程 \\({poly} = 0\\) 有两个实数根。{q}"
        steps = [f"判别式 \\(\\Delta = ({b})^2 - 4 \\cdot {k} \\cdot ({c}) = {b * b} - ({4 * k * c}) = {D}\\)，\\(\\sqrt{{\\Delta}} = {sq}\\)。",
                 f"由求根公式 \\(x = \\frac{{{-b} \\pm {sq}}}{{{2 * k}}}\\)，两根为 \\({hi}\\) 和 \\({lo}\\)。"]
        tail = {"squares": f"平方和为 \\({_paren(r1)}^2 + {_paren(r2)}^2 = {r1 * r1} + {r2 * r2} = {ans}\\)。",
                "larger": f"较大的根是 \\({hi}\\)。",
                "diff": f"两根之差的绝对值为 \\({hi} - {_paren(lo)} = {hi - lo}\\)。",
                "recip": f"倒数之和为 \\(\\frac{{1}}{{{r1}}} + \\frac{{1}}{{{r2}}} = \\frac{{{s}}}{{{p}}} = {ans}\\)。"}[ask]
        steps.append(tail)
        checks = [f"验算：\\({k}(x - {_paren(r1)})(x - {_paren(r2)})\\) 展开后正是 \\({poly}\\)。"]
        alt = [f"用韦达定理：两根之和 \\({s}\\)，两根之积 \\({p}\\)。" +
               (f"平方和 \\(= {s}^2 - 2 \\cdot ({p}) = {ans}\\)。" if ask == "squares" else "结果一致。")]
        target = {"squares": "两根的平方和", "larger": "较大的根", "diff": "两根之差的绝对值", "recip": "两根倒数之和"}[ask]
    else:
        q = {"squares": "Find the sum of the squares of its roots.", "larger": "What is the larger root?",
             "diff": "What is the positive difference between the roots?",
             "recip": "Find the sum of the reciprocals of the roots."}[ask]
        problem = f"The equation \\({poly} = 0\\) has two real roots. {q}"
        steps = [f"The discriminant is \\(\\Delta = ({b})^2 - 4 \\cdot {k} \\cdot ({c}) = {b * b} - ({4 * k * c}) = {D}\\), and \\(\\sqrt{{\\Delta}} = {sq}\\).",
                 f"By the quadratic formula \\(x = \\frac{{{-b} \\pm {sq}}}{{{2 * k}}}\\), the roots are \\({hi}\\) and \\({lo}\\)."]
        tail = {"squares": f"The sum of squares is \\({_paren(r1)}^2 + {_paren(r2)}^2 = {r1 * r1} + {r2 * r2} = {ans}\\).",
                "larger": f"The larger root is \\({hi}\\).",
                "diff": f"The positive difference is \\({hi} - {_paren(lo)} = {hi - lo}\\).",
                "recip": f"The sum of reciprocals is \\(\\frac{{1}}{{{r1}}} + \\frac{{1}}{{{r2}}} = \\frac{{{s}}}{{{p}}} = {ans}\\)."}[ask]
        steps.append(tail)
        checks = [f"Check: \\({k}(x - {_paren(r1)})(x - {_paren(r2)})\\) expands back to \\({poly}\\)."]
        alt = [f"By Vieta's formulas the roots sum to \\({s}\\) and multiply to \\({p}\\). " +
               (f"So the sum of squares is \\({s}^2 - 2 \\cdot ({p}) = {ans}\\)." if ask == "squares" else "That agrees.")]
        target = {"squares": "the sum of the squares of the roots", "larger": "the larger root",
                  "diff": "the positive difference of the roots", "recip": "the sum of the reciprocals of the roots"}[ask]
    return _Prob(problem, ans, steps, checks, [("*", abs(b), abs(b)), ("*", 4 * k, abs(c)), ("*", abs(r1), abs(r1)), ("*", abs(r2), abs(r2)), ("+", abs(-b), sq),
                  ("*", abs(r1), abs(r2)), ("*", k, abs(r1 - r2))], target, alt)


_TRIPLES = ((3, 4, 5), (5, 12, 13), (8, 15, 17), (7, 24, 25), (20, 21, 29), (9, 40, 41), (12, 35, 37))


def _f_geometry(rng: random.Random, zh: int) -> _Prob:
    kind = _pick(rng, ("rect", "tri", "circle", "trap", "dist"))
    if kind == "rect":
        w = _ri(rng, 3, 30)
        l = _ri(rng, w + 1, 45)
        P, s = 2 * (l + w), l + w
        if zh:
            problem = f"一个长方形的周长是{P}厘米，长是{l}厘米。它的面积是多少平方厘米？"
            steps = [f"长与宽的和是周长的一半：\\({P} \\div 2 = {s}\\) 厘米。", f"宽是 \\({s} - {l} = {w}\\) 厘米。",
                     f"面积是 \\({l} \\times {w} = {l * w}\\) 平方厘米。"]
            checks = [f"验算周长：\\(2 \\times ({l} + {w}) = {P}\\)，对。"]
            alt = [f"也可以直接写 \\(w = \\frac{{{P} - 2 \\times {l}}}{{2}} = {w}\\)。"]
            target = "长方形的面积"
        else:
            problem = f"A rectangle has a perimeter of {P} cm and a length of {l} cm. What is its area in square centimeters?"
            steps = [f"Length plus width is half the perimeter: \\({P} / 2 = {s}\\) cm.", f"So the width is \\({s} - {l} = {w}\\) cm.",
                     f"The area is \\({l} \\times {w} = {l * w}\\) square centimeters."]
            checks = [f"Check the perimeter: \\(2({l} + {w}) = {P}\\). Good."]
            alt = [f"Directly, \\(w = \\frac{{{P} - 2 \\cdot {l}}}{{2}} = {w}\\)."]
            target = "the area of the rectangle"
        return _Prob(problem, str(l * w), steps, checks, [("*", l, w), ("-", s, l)], target, alt)
    if kind == "tri":
        t = _pick(rng, _TRIPLES)
        m = _ri(rng, 1, 4)
        a, b, c = t[0] * m, t[1] * m, t[2] * m
        if rng.random() < 0.5:
            if zh:
                problem = f"直角三角形的两条直角边分别长{a}和{b}。斜边长是多少？"
                steps = [f"由勾股定理，斜边的平方是 \\({a}^2 + {b}^2 = {a * a} + {b * b} = {c * c}\\)。", f"所以斜边 \\(= \\sqrt{{{c * c}}} = {c}\\)。"]
                checks = [f"验算：\\({c}^2 = {c * c}\\)，确实等于 \\({a * a} + {b * b}\\)。"]
                alt = [f"注意 {a}、{b}、{c} 是 {t[0]}、{t[1]}、{t[2]} 的 {m} 倍，这是一组勾股数。"]
                target = "斜边的长"
            else:
                problem = f"A right triangle has legs of length {a} and {b}. How long is the hypotenuse?"
                steps = [f"By the Pythagorean theorem the hypotenuse squared is \\({a}^2 + {b}^2 = {a * a} + {b * b} = {c * c}\\).", f"So the hypotenuse is \\(\\sqrt{{{c * c}}} = {c}\\)."]
                checks = [f"Check: \\({c}^2 = {c * c}\\), which equals \\({a * a} + {b * b}\\)."]
                alt = [f"Note that {a}, {b}, {c} is {m} times the Pythagorean triple {t[0]}, {t[1]}, {t[2]}."]
                target = "the length of the hypotenuse"
            return _Prob(problem, str(c), steps, checks, [("*", a, a), ("*", b, b), ("+", a * a, b * b)], target, alt)
        area = Fraction(a * b, 2)
        if zh:
            problem = f"直角三角形的一条直角边长{a}，斜边长{c}。这个三角形的面积是多少？"
            steps = [f"另一条直角边的平方是 \\({c}^2 - {a}^2 = {c * c} - {a * a} = {b * b}\\)，所以它长 \\({b}\\)。",
                     f"面积是 \\(\\frac{{1}}{{2}} \\times {a} \\times {b} = {_dec(area)}\\)。"]
            checks = [f"验算：\\({a}^2 + {b}^2 = {a * a + b * b} = {c}^2\\)。"]
            alt = [f"{a}、{b}、{c} 是勾股数 {t[0]}、{t[1]}、{t[2]} 的 {m} 倍，所以另一边是 \\({t[1]} \\times {m} = {b}\\)。"]
            target = "三角形的面积"
        else:
            problem = f"A right triangle has one leg of length {a} and a hypotenuse of length {c}. What is its area?"
            steps = [f"The other leg squared is \\({c}^2 - {a}^2 = {c * c} - {a * a} = {b * b}\\), so it is \\({b}\\).",
                     f"The area is \\(\\frac{{1}}{{2}} \\cdot {a} \\cdot {b} = {_dec(area)}\\)."]
            checks = [f"Check: \\({a}^2 + {b}^2 = {a * a + b * b} = {c}^2\\)."]
            alt = [f"{a}, {b}, {c} is {m} times the triple {t[0]}, {t[1]}, {t[2]}, so the missing leg is \\({t[1]} \\cdot {m} = {b}\\)."]
            target = "the area of the triangle"
        return _Prob(problem, _dec(area), steps, checks, [("*", c, c), ("*", a, a), ("-", c * c, a * a), ("*", a, b)], target, alt)
    if kind == "circle":
        r = _ri(rng, 2, 20)
        given_c = rng.random() < 0.5
        if zh:
            if given_c:
                problem = f"一个圆的周长是 \\({2 * r}\\pi\\) 厘米。它的面积是多少平方厘米？（用 \\(\\pi\\) 表示）"
                steps = [f"由 \\(C = 2\\pi r\\) 得 \\(r = \\frac{{{2 * r}\\pi}}{{2\\pi}} = {r}\\) 厘米。"]
            else:
                problem = f"一个圆的直径是{2 * r}厘米。它的面积是多少平方厘米？（用 \\(\\pi\\) 表示）"
                steps = [f"半径是直径的一半：\\({2 * r} \\div 2 = {r}\\) 厘米。"]
            steps.append(f"面积 \\(S = \\pi r^2 = \\pi \\times {r}^2 = {r * r}\\pi\\) 平方厘米。")
            checks = [f"验算：\\({r}^2 = {r * r}\\)。"]
            alt = [f"也可以用 \\(S = \\frac{{\\pi d^2}}{{4}} = \\frac{{{4 * r * r}\\pi}}{{4}} = {r * r}\\pi\\)。"]
            target = "圆的面积"
        else:
            if given_c:
                problem = f"A circle has circumference \\({2 * r}\\pi\\) cm. What is its area, in square centimeters? Express your answer in terms of \\(\\pi\\)."
                steps = [f"From \\(C = 2\\pi r\\), the radius is \\(r = \\frac{{{2 * r}\\pi}}{{2\\pi}} = {r}\\) cm."]
            else:
                problem = f"A circle has a diameter of {2 * r} cm. What is its area, in square centimeters? Express your answer in terms of \\(\\pi\\)."
                steps = [f"The radius is half the diameter: \\({2 * r} / 2 = {r}\\) cm."]
            steps.append(f"The area is \\(\\pi r^2 = \\pi \\cdot {r}^2 = {r * r}\\pi\\) square centimeters.")
            checks = [f"Check: \\({r}^2 = {r * r}\\)."]
            alt = [f"Using the diameter directly, \\(\\frac{{\\pi d^2}}{{4}} = \\frac{{{4 * r * r}\\pi}}{{4}} = {r * r}\\pi\\)."]
            target = "the area of the circle"
        return _Prob(problem, f"{r * r}\\pi", steps, checks, [("*", r, r), ("*", 2 * r, 2 * r)], target, alt)
    if kind == "trap":
        a, b, h = _ri(rng, 3, 30), _ri(rng, 3, 30), _ri(rng, 2, 20)
        area = Fraction((a + b) * h, 2)
        if zh:
            problem = f"一个梯形的上底是{a}米，下底是{b}米，高是{h}米。它的面积是多少平方米？"
            steps = [f"上底加下底：\\({a} + {b} = {a + b}\\) 米。", f"面积 \\(= \\frac{{({a} + {b}) \\times {h}}}{{2}} = \\frac{{{(a + b) * h}}}{{2}} = {_dec(area)}\\) 平方米。"]
            checks = [f"验算：\\({a + b} \\times {h} = {(a + b) * h}\\)，再除以 2 得 {_dec(area)}。"]
            alt = [f"也可以看成两个三角形：\\(\\frac{{{a} \\times {h}}}{{2}} + \\frac{{{b} \\times {h}}}{{2}} = {_dec(Fraction(a * h, 2))} + {_dec(Fraction(b * h, 2))} = {_dec(area)}\\)。"]
            target = "梯形的面积"
        else:
            problem = f"A trapezoid has parallel sides of {a} m and {b} m and a height of {h} m. What is its area in square meters?"
            steps = [f"The parallel sides add to \\({a} + {b} = {a + b}\\) m.", f"The area is \\(\\frac{{({a} + {b}) \\cdot {h}}}{{2}} = \\frac{{{(a + b) * h}}}{{2}} = {_dec(area)}\\) square meters."]
            checks = [f"Check: \\({a + b} \\times {h} = {(a + b) * h}\\), and half of that is {_dec(area)}."]
            alt = [f"Split it into two triangles along a diagonal: \\(\\frac{{{a} \\cdot {h}}}{{2}} + \\frac{{{b} \\cdot {h}}}{{2}} = {_dec(Fraction(a * h, 2))} + {_dec(Fraction(b * h, 2))} = {_dec(area)}\\)."]
            target = "the area of the trapezoid"
        return _Prob(problem, _dec(area), steps, checks, [("+", a, b), ("*", a + b, h)], target, alt)
    t = _pick(rng, _TRIPLES[:4])
    m = _ri(rng, 1, 3)
    dx, dy = t[0] * m, t[1] * m
    if rng.random() < 0.5:
        dx, dy = dy, dx
    x1, y1 = _ri(rng, -10, 10), _ri(rng, -10, 10)
    x2, y2 = x1 + dx * _pick(rng, (-1, 1)), y1 + dy * _pick(rng, (-1, 1))
    dist = t[2] * m
    if zh:
        problem = f"平面直角坐标系中，点 \\(A({x1}, {y1})\\) 与点 \\(B({x2}, {y2})\\) 之间的距离是多少？"
        steps = [f"横坐标之差 \\({x2} - {_paren(x1)} = {x2 - x1}\\)，纵坐标之差 \\({y2} - {_paren(y1)} = {y2 - y1}\\)。",
                 f"距离 \\(= \\sqrt{{({x2 - x1})^2 + ({y2 - y1})^2}} = \\sqrt{{{dx * dx} + {dy * dy}}} = \\sqrt{{{dist * dist}}} = {dist}\\)。"]
        checks = [f"验算：\\({dist}^2 = {dist * dist} = {dx * dx} + {dy * dy}\\)。"]
        alt = [f"两坐标差 {dx} 和 {dy} 是勾股数的 {m} 倍，所以距离是 \\({t[2]} \\times {m} = {dist}\\)。"]
        target = "两点间的距离"
    else:
        problem = f"What is the distance between the points \\(A({x1}, {y1})\\) and \\(B({x2}, {y2})\\)?"
        steps = [f"The differences are \\(\\Delta x = {x2} - {_paren(x1)} = {x2 - x1}\\) and \\(\\Delta y = {y2} - {_paren(y1)} = {y2 - y1}\\).",
                 f"The distance is \\(\\sqrt{{({x2 - x1})^2 + ({y2 - y1})^2}} = \\sqrt{{{dx * dx} + {dy * dy}}} = \\sqrt{{{dist * dist}}} = {dist}\\)."]
        checks = [f"Check: \\({dist}^2 = {dist * dist} = {dx * dx} + {dy * dy}\\)."]
        alt = [f"The legs {dx} and {dy} are {m} times a Pythagorean triple, so the distance is \\({t[2]} \\cdot {m} = {dist}\\)."]
        target = "the distance \\(AB\\)"
    return _Prob(problem, str(dist), steps, checks, [("*", dx, dx), ("*", dy, dy), ("+", dx * dx, dy * dy)], target, alt)


_WORDS = ("LEVEL", "BANANA", "APPLE", "BALLOON", "SUCCESS", "LETTER", "PEPPER", "COFFEE", "GOOGLE",
          "CANADA", "KAYAK", "ALGEBRA", "STATISTICS", "MISSISSIPPI", "BOOKKEEPER", "TOMATO", "PARALLEL")


def _f_combinatorics(rng: random.Random, zh: int) -> _Prob:
    kind = _pick(rng, ("committee", "atleast", "word", "handshake", "grid"))
    if kind == "committee":
        n, k = _ri(rng, 5, 14), _ri(rng, 2, 4)
        ans = math.comb(n, k)
        num = " \\times ".join(str(n - i) for i in range(k))
        den = " \\times ".join(str(i) for i in range(k, 0, -1))
        if zh:
            problem = f"从{n}名同学中选出{k}人组成一个小组（不分职务），共有多少种选法？"
            steps = [f"不考虑顺序，选法数是组合数 \\(\\binom{{{n}}}{{{k}}}\\)。",
                     f"\\(\\binom{{{n}}}{{{k}}} = \\frac{{{num}}}{{{den}}} = \\frac{{{math.perm(n, k)}}}{{{math.factorial(k)}}} = {ans}\\)。"]
            checks = [f"验算：有序选法是 {math.perm(n, k)} 种，每组被重复计数 \\({k}! = {math.factorial(k)}\\) 次，\\({math.perm(n, k)} \\div {math.factorial(k)} = {ans}\\)。"]
            alt = [f"也可以用 \\(\\binom{{{n}}}{{{k}}} = \\binom{{{n - 1}}}{{{k - 1}}} + \\binom{{{n - 1}}}{{{k}}} = {math.comb(n - 1, k - 1)} + {math.comb(n - 1, k)} = {ans}\\)。"]
            target = "选法的总数"
        else:
            problem = f"In how many ways can a group of {k} be chosen from {n} students, if the order does not matter?"
            steps = [f"Order does not matter, so we count combinations: \\(\\binom{{{n}}}{{{k}}}\\).",
                     f"\\(\\binom{{{n}}}{{{k}}} = \\frac{{{num}}}{{{den}}} = \\frac{{{math.perm(n, k)}}}{{{math.factorial(k)}}} = {ans}\\)."]
            checks = [f"Check: there are {math.perm(n, k)} ordered selections and each group is counted \\({k}! = {math.factorial(k)}\\) times; \\({math.perm(n, k)} / {math.factorial(k)} = {ans}\\)."]
            alt = [f"Pascal's rule agrees: \\(\\binom{{{n - 1}}}{{{k - 1}}} + \\binom{{{n - 1}}}{{{k}}} = {math.comb(n - 1, k - 1)} + {math.comb(n - 1, k)} = {ans}\\)."]
            target = "the number of ways to choose the group"
        return _Prob(problem, str(ans), steps, checks, [("/", math.perm(n, k), math.factorial(k))] + [("*", math.perm(n, i), n - i) for i in range(1, k)] +
                     [("*", math.comb(n - 1, k - 1), 1), ("+", math.comb(n - 1, k - 1), math.comb(n - 1, k))], target, alt)
    if kind == "atleast":
        m, w = _ri(rng, 3, 8), _ri(rng, 2, 7)
        k = _ri(rng, 2, min(4, m))
        tot, none = math.comb(m + w, k), math.comb(m, k)
        ans = tot - none
        if zh:
            problem = f"一个班有{m}名男生和{w}名女生，要选出{k}人参加活动，要求至少有一名女生。有多少种选法？"
            steps = [f"不加限制的选法有 \\(\\binom{{{m + w}}}{{{k}}} = {tot}\\) 种。", f"全是男生的选法有 \\(\\binom{{{m}}}{{{k}}} = {none}\\) 种。",
                     f"所以至少一名女生的选法有 \\({tot} - {none} = {ans}\\) 种。"]
            checks = [f"按女生人数分类相加：" + " + ".join(f"\\(\\binom{{{w}}}{{{j}}}\\binom{{{m}}}{{{k - j}}}\\)" for j in range(1, min(w, k) + 1)) + f"，结果也是 {ans}。"]
            alt = [f"分类计数：女生 1 人到 {min(w, k)} 人分别计算再相加，总数为 {ans}。"]
            target = "至少一名女生的选法数"
        else:
            problem = f"A class has {m} boys and {w} girls. In how many ways can {k} students be chosen if at least one girl must be included?"
            steps = [f"Without restrictions there are \\(\\binom{{{m + w}}}{{{k}}} = {tot}\\) choices.", f"The all-boy choices number \\(\\binom{{{m}}}{{{k}}} = {none}\\).",
                     f"So the choices with at least one girl number \\({tot} - {none} = {ans}\\)."]
            checks = ["Counting by the number of girls instead: " + " + ".join(f"\\(\\binom{{{w}}}{{{j}}}\\binom{{{m}}}{{{k - j}}}\\)" for j in range(1, min(w, k) + 1)) + f", which also totals {ans}."]
            alt = [f"Casework on the number of girls, 1 up to {min(w, k)}, gives the same {ans}."]
            target = "the number of selections with at least one girl"
        return _Prob(problem, str(ans), steps, checks, [("-", tot, none)] + [("*", math.comb(w, j), math.comb(m, k - j)) for j in range(1, min(w, k) + 1)] +
                     [("*", math.perm(m + w, k), 1), ("/", math.perm(m + w, k), math.factorial(k))], target, alt)
    if kind == "word":
        word = _pick(rng, _WORDS)
        counts: dict[str, int] = {}
        for ch in word:
            counts[ch] = counts.get(ch, 0) + 1
        reps = [(ch, c) for ch, c in counts.items() if c > 1]
        den = 1
        for _, c in reps:
            den *= math.factorial(c)
        ans = math.factorial(len(word)) // den
        den_tex = " \\cdot ".join(f"{c}!" for _, c in reps)
        rep_txt = (", ".join(f"{ch} ×{c}" for ch, c in reps))
        if zh:
            problem = f"把单词 {word} 的字母重新排列，可以得到多少种不同的字母排列？"
            steps = [f"{word} 共有 {len(word)} 个字母，其中重复的有：{rep_txt}。",
                     f"不同排列数为 \\(\\frac{{{len(word)}!}}{{{den_tex}}} = \\frac{{{math.factorial(len(word))}}}{{{den}}} = {ans}\\)。"]
            checks = [f"验算：\\({ans} \\times {den} = {math.factorial(len(word))} = {len(word)}!\\)。"]
            alt = ["也可以逐个安排位置：先给重复字母选位置，再排其余字母，结果相同。"]
            target = "不同排列的个数"
        else:
            problem = f"How many distinct arrangements of the letters of the word {word} are there?"
            steps = [f"{word} has {len(word)} letters, with repeats {rep_txt}.",
                     f"The number of distinct arrangements is \\(\\frac{{{len(word)}!}}{{{den_tex}}} = \\frac{{{math.factorial(len(word))}}}{{{den}}} = {ans}\\)."]
            checks = [f"Check: \\({ans} \\times {den} = {math.factorial(len(word))} = {len(word)}!\\)."]
            alt = ["Placing the repeated letters first (choosing their positions) and then the rest gives the same count."]
            target = "the number of distinct arrangements"
        return _Prob(problem, str(ans), steps, checks, [("/", math.factorial(len(word)), den)] + [("*", math.factorial(i), i + 1) for i in range(3, len(word))], target, alt)
    if kind == "handshake":
        n = _ri(rng, 5, 40)
        ans = n * (n - 1) // 2
        if zh:
            problem = f"聚会上有{n}个人，每两个人都握一次手。一共握了多少次手？"
            steps = [f"每次握手对应从{n}人中选 2 人：\\(\\binom{{{n}}}{{2}} = \\frac{{{n} \\times {n - 1}}}{{2}} = {ans}\\)。"]
            checks = [f"另一种算法：每人握 {n - 1} 次，共 \\({n} \\times {n - 1} = {n * (n - 1)}\\)，每次握手被算了两次，除以 2 得 {ans}。"]
            alt = [f"也可以累加：\\(1 + 2 + \\cdots + {n - 1} = {ans}\\)。"]
            target = "握手的总次数"
        else:
            problem = f"At a party of {n} people, everyone shakes hands with everyone else exactly once. How many handshakes take place?"
            steps = [f"Each handshake is a pair of people: \\(\\binom{{{n}}}{{2}} = \\frac{{{n} \\cdot {n - 1}}}{{2}} = {ans}\\)."]
            checks = [f"Another count: each person shakes {n - 1} hands, giving \\({n} \\cdot {n - 1} = {n * (n - 1)}\\), but every handshake is counted twice, so {ans}."]
            alt = [f"Or add up \\(1 + 2 + \\cdots + {n - 1} = {ans}\\)."]
            target = "the number of handshakes"
        return _Prob(problem, str(ans), steps, checks, [("*", n, n - 1), ("/", n * (n - 1), 2)], target, alt)
    r, u = _ri(rng, 2, 9), _ri(rng, 2, 9)
    ans = math.comb(r + u, r)
    if zh:
        problem = f"在网格中从左下角走到右上角，每步只能向右或向上走一格，需要向右走{r}步、向上走{u}步。共有多少条不同的路线？"
        steps = [f"每条路线是 {r + u} 步的序列，其中 {r} 步向右。", f"路线数 \\(= \\binom{{{r + u}}}{{{r}}} = {ans}\\)。"]
        checks = [f"验算：\\(\\binom{{{r + u}}}{{{r}}} = \\binom{{{r + u}}}{{{u}}}\\)，两者都是 {ans}。"]
        alt = ["也可以在网格上逐点累加：每个点的路线数等于左边和下边两点的路线数之和，最后一个点同样得到" + f" {ans}。"]
        target = "路线的条数"
    else:
        problem = f"On a grid you walk from the bottom-left corner to the top-right corner using only unit steps right or up, taking {r} steps right and {u} steps up. How many different paths are there?"
        steps = [f"A path is a sequence of {r + u} steps, {r} of which go right.", f"So the number of paths is \\(\\binom{{{r + u}}}{{{r}}} = {ans}\\)."]
        checks = [f"Check by symmetry: \\(\\binom{{{r + u}}}{{{r}}} = \\binom{{{r + u}}}{{{u}}} = {ans}\\)."]
        alt = [f"Filling the grid point by point (each count is the sum of the counts from the left and from below) also ends at {ans}."]
        target = "the number of paths"
    return _Prob(problem, str(ans), steps, checks, [("*", math.factorial(r + u) // math.factorial(u), 1), ("/", math.perm(r + u, r), math.factorial(r))]
                 + [("*", math.perm(r + u, i), r + u - i) for i in range(1, r)], target, alt)


def _f_arith_seq(rng: random.Random, zh: int) -> _Prob:
    a1, d, n = _ri(rng, -10, 30), _pick(rng, (-1, 1)) * _ri(rng, 1, 9), _ri(rng, 8, 60)
    an = a1 + (n - 1) * d
    S = n * (a1 + an) // 2 if (n * (a1 + an)) % 2 == 0 else None
    ask_sum = S is not None and rng.random() < 0.5
    terms = ", ".join(str(a1 + i * d) for i in range(4))
    if zh:
        if ask_sum:
            problem = f"等差数列 \\({terms}, \\ldots\\) 的前{n}项和是多少？"
            target = f"前{n}项和"
        else:
            problem = f"等差数列 \\({terms}, \\ldots\\) 的第{n}项是多少？"
            target = f"第{n}项"
        steps = [f"首项 \\(a_1 = {a1}\\)，公差 \\(d = {a1 + d} - {_paren(a1)} = {d}\\)。",
                 f"第{n}项 \\(a_{{{n}}} = a_1 + ({n} - 1)d = {a1} + {n - 1} \\times {_paren(d)} = {an}\\)。"]
        if ask_sum:
            steps.append(f"前{n}项和 \\(S_{{{n}}} = \\frac{{{n}(a_1 + a_{{{n}}})}}{{2}} = \\frac{{{n} \\times {_paren(a1 + an)}}}{{2}} = {S}\\)。")
        checks = [f"验算：\\(a_2 = {a1 + d}\\)，\\(a_3 = {a1 + 2 * d}\\)，与题目一致，公式可靠。"]
        alt = ([f"也可以用 \\(S_n = n a_1 + \\frac{{n(n-1)}}{{2}}d = {n * a1} + {n * (n - 1) // 2} \\times {_paren(d)} = {n * a1 + n * (n - 1) // 2 * d}\\)。"]
               if ask_sum else [f"换个角度：从 \\(a_1 = {a1}\\) 出发，走 {n - 1} 步、每步 {d}，得 \\({a1} + {_paren((n - 1) * d)} = {an}\\)。"])
    else:
        if ask_sum:
            problem = f"What is the sum of the first {n} terms of the arithmetic sequence \\({terms}, \\ldots\\)?"
            target = f"the sum of the first {n} terms"
        else:
            problem = f"What is the {_ordinal_en(n)} term of the arithmetic sequence \\({terms}, \\ldots\\)?"
            target = f"the {_ordinal_en(n)} term"
        steps = [f"The first term is \\(a_1 = {a1}\\) and the common difference is \\(d = {a1 + d} - {_paren(a1)} = {d}\\).",
                 f"The {_ordinal_en(n)} term is \\(a_{{{n}}} = a_1 + ({n} - 1)d = {a1} + {n - 1} \\cdot {_paren(d)} = {an}\\)."]
        if ask_sum:
            steps.append(f"The sum is \\(S_{{{n}}} = \\frac{{{n}(a_1 + a_{{{n}}})}}{{2}} = \\frac{{{n} \\cdot {_paren(a1 + an)}}}{{2}} = {S}\\).")
        checks = [f"Check: \\(a_2 = {a1 + d}\\) and \\(a_3 = {a1 + 2 * d}\\) match the given terms."]
        alt = ([f"Alternatively \\(S_n = n a_1 + \\frac{{n(n-1)}}{{2}} d = {n * a1} + {n * (n - 1) // 2} \\cdot {_paren(d)} = {n * a1 + n * (n - 1) // 2 * d}\\)."]
               if ask_sum else [f"Another view: start at \\(a_1 = {a1}\\) and take {n - 1} steps of {d}: \\({a1} + {_paren((n - 1) * d)} = {an}\\)."])
    return _Prob(problem, str(S if ask_sum else an), steps, checks, [("*", n - 1, abs(d)), ("+", abs(a1), abs((n - 1) * d))] + ([("*", n, abs(a1 + an)), ("/", n * abs(a1 + an), 2), ("*", n, abs(a1))] if ask_sum else []), target, alt)


def _f_geo_seq(rng: random.Random, zh: int) -> _Prob:
    a1, r, n = _ri(rng, 1, 6), _ri(rng, 2, 4), _ri(rng, 4, 9)
    an = a1 * r ** (n - 1)
    S = a1 * (r ** n - 1) // (r - 1)
    ask_sum = rng.random() < 0.5
    terms = ", ".join(str(a1 * r ** i) for i in range(3))
    if zh:
        problem = f"等比数列 \\({terms}, \\ldots\\) 的" + (f"前{n}项和是多少？" if ask_sum else f"第{n}项是多少？")
        steps = [f"首项 \\(a_1 = {a1}\\)，公比 \\(q = {a1 * r} \\div {a1} = {r}\\)。",
                 f"第{n}项 \\(a_{{{n}}} = a_1 q^{{{n - 1}}} = {a1} \\times {r}^{{{n - 1}}} = {a1} \\times {r ** (n - 1)} = {an}\\)。"]
        if ask_sum:
            steps.append(f"前{n}项和 \\(S_{{{n}}} = \\frac{{a_1(q^{{{n}}} - 1)}}{{q - 1}} = \\frac{{{a1}({r ** n} - 1)}}{{{r - 1}}} = {S}\\)。")
        checks = [f"验算：逐项相加 " + " + ".join(str(a1 * r ** i) for i in range(n)) + f" = {S}。" if ask_sum else f"验算：\\({r}^{{{n - 1}}} = {r ** (n - 1)}\\)。"]
        alt = [f"也可以逐项乘以 {r}：" + ", ".join(str(a1 * r ** i) for i in range(n)) + "。"]
        target = f"前{n}项和" if ask_sum else f"第{n}项"
    else:
        problem = f"For the geometric sequence \\({terms}, \\ldots\\), what is " + (f"the sum of the first {n} terms?" if ask_sum else f"the {_ordinal_en(n)} term?")
        steps = [f"The first term is \\(a_1 = {a1}\\) and the ratio is \\(r = {a1 * r} / {a1} = {r}\\).",
                 f"The {_ordinal_en(n)} term is \\(a_1 r^{{{n - 1}}} = {a1} \\cdot {r}^{{{n - 1}}} = {a1} \\cdot {r ** (n - 1)} = {an}\\)."]
        if ask_sum:
            steps.append(f"The sum is \\(\\frac{{a_1(r^{{{n}}} - 1)}}{{r - 1}} = \\frac{{{a1}({r ** n} - 1)}}{{{r - 1}}} = {S}\\).")
        checks = [("Check by adding term by term: " + " + ".join(str(a1 * r ** i) for i in range(n)) + f" = {S}.") if ask_sum else f"Check: \\({r}^{{{n - 1}}} = {r ** (n - 1)}\\)."]
        alt = [f"Listing the terms by repeated multiplication by {r}: " + ", ".join(str(a1 * r ** i) for i in range(n)) + "."]
        target = f"the sum of the first {n} terms" if ask_sum else f"the {_ordinal_en(n)} term"
    return _Prob(problem, str(S if ask_sum else an), steps, checks, [("*", a1, r ** (n - 1))] + [("*", a1 * r ** i, r) for i in range(1, n)] + ([("/", a1 * (r ** n - 1), r - 1)] if ask_sum else []), target, alt)


def _f_speed(rng: random.Random, zh: int) -> _Prob:
    kind = rng.random()
    name = _pick(rng, _NAMES[zh])
    if kind < 0.4:  # km/h -> m/s
        v = _pick(rng, (18, 36, 45, 54, 60, 72, 90, 100, 108, 120, 144))
        ans = Fraction(v * 1000, 3600)
        if zh:
            problem = f"一辆汽车以每小时{v}千米的速度行驶。这个速度是每秒多少米？"
            steps = [f"1 千米 = 1000 米，1 小时 = 3600 秒。", f"所以 \\({v}\\) 千米/时 \\(= \\frac{{{v} \\times 1000}}{{3600}}\\) 米/秒 \\(= \\frac{{{v * 1000}}}{{3600}} = {_dec(ans)}\\) 米/秒。"]
            checks = [f"验算：\\({_dec(ans)} \\times 3.6 = {v}\\)。"]
            alt = [f"快捷方法：除以 3.6，\\({v} \\div 3.6 = {_dec(ans)}\\)。"]
            target = "以米/秒为单位的速度"
        else:
            problem = f"A car travels at {v} km/h. What is this speed in meters per second?"
            steps = ["One kilometer is 1000 m and one hour is 3600 s.", f"So \\({v}\\) km/h \\(= \\frac{{{v} \\cdot 1000}}{{3600}}\\) m/s \\(= \\frac{{{v * 1000}}}{{3600}} = {_dec(ans)}\\) m/s."]
            checks = [f"Check: \\({_dec(ans)} \\times 3.6 = {v}\\)."]
            alt = [f"Shortcut: divide by 3.6, \\({v} / 3.6 = {_dec(ans)}\\)."]
            target = "the speed in meters per second"
        return _Prob(problem, _dec(ans), steps, checks, [("*", v, 1000), ("/", v * 1000, 3600)] if (v * 1000) % 3600 == 0 else [("*", v, 1000)], target, alt)
    if kind < 0.7:  # average speed over a trip with minutes
        s = _ri(rng, 30, 110)
        g = math.gcd(s, 60)
        minutes = (60 // g) * _ri(rng, 1, max(1, 300 // (60 // g)))
        D = s * minutes // 60
        h, mn = divmod(minutes, 60)
        if zh:
            tt = f"{h}小时{mn}分钟" if h and mn else (f"{h}小时" if h else f"{mn}分钟")
            problem = f"{name}开车行驶了{D}千米，用时{tt}。平均速度是每小时多少千米？"
            steps = [f"时间换算成小时：\\({minutes}\\) 分钟 \\(= \\frac{{{minutes}}}{{60}} = {_dec(Fraction(minutes, 60))}\\) 小时。",
                     f"平均速度 \\(= {D} \\div {_dec(Fraction(minutes, 60))} = {s}\\) 千米/时。"]
            checks = [f"验算：\\({s} \\times {_dec(Fraction(minutes, 60))} = {D}\\)。"]
            alt = [f"也可以先算每分钟走 \\(\\frac{{{D}}}{{{minutes}}}\\) 千米，再乘以 60，得到 {s}。"]
            target = "平均速度"
        else:
            tt = f"{h} h {mn} min" if h and mn else (f"{h} h" if h else f"{mn} min")
            problem = f"{name} drives {D} km in {tt}. What is the average speed in km/h?"
            steps = [f"Convert the time to hours: \\({minutes}\\) min \\(= \\frac{{{minutes}}}{{60}} = {_dec(Fraction(minutes, 60))}\\) h.",
                     f"Average speed \\(= {D} / {_dec(Fraction(minutes, 60))} = {s}\\) km/h."]
            checks = [f"Check: \\({s} \\times {_dec(Fraction(minutes, 60))} = {D}\\) km."]
            alt = [f"Per minute the car covers \\(\\frac{{{D}}}{{{minutes}}}\\) km; times 60 gives {s} km/h."]
            target = "the average speed"
        return _Prob(problem, str(s), steps, checks, [("*", s, minutes), ("/", s * minutes, 60)], target, alt)
    # two travellers approaching each other
    v1, v2 = _ri(rng, 3, 20), _ri(rng, 3, 20)
    t = _ri(rng, 1, 6)
    D = (v1 + v2) * t
    n2 = _pick(rng, _NAMES[zh])
    while n2 == name:
        n2 = _pick(rng, _NAMES[zh])
    if zh:
        problem = f"{name}和{n2}分别从相距{D}千米的两地同时出发，相向而行。{name}每小时走{v1}千米，{n2}每小时走{v2}千米。几小时后两人相遇？"
        steps = [f"两人每小时共缩短距离 \\({v1} + {v2} = {v1 + v2}\\) 千米。", f"相遇时间 \\(= {D} \\div {v1 + v2} = {t}\\) 小时。"]
        checks = [f"验算：{t} 小时内{name}走 {v1 * t} 千米，{n2}走 {v2 * t} 千米，合计 {D} 千米。"]
        alt = [f"设 \\(t\\) 小时相遇：\\({v1}t + {v2}t = {D}\\)，解得 \\(t = {t}\\)。"]
        target = "相遇所需的时间"
    else:
        problem = f"{name} and {n2} start at the same time from two towns {D} km apart and travel toward each other at {v1} km/h and {v2} km/h. After how many hours do they meet?"
        steps = [f"Together they close the gap at \\({v1} + {v2} = {v1 + v2}\\) km/h.", f"They meet after \\({D} / {v1 + v2} = {t}\\) hours."]
        checks = [f"Check: in {t} hours {name} covers {v1 * t} km and {n2} covers {v2 * t} km, {D} km in total."]
        alt = [f"With \\(t\\) hours: \\({v1}t + {v2}t = {D}\\), so \\(t = {t}\\)."]
        target = "the time until they meet"
    return _Prob(problem, str(t), steps, checks, [("+", v1, v2), ("/", D, v1 + v2), ("*", v1, t), ("*", v2, t), ("+", v1 * t, v2 * t)], target, alt)


def _f_probability(rng: random.Random, zh: int) -> _Prob:
    kind = _pick(rng, ("balls", "balls", "dice", "dice2", "coins", "exact"))
    if kind == "balls":
        r, b, g = _ri(rng, 1, 8), _ri(rng, 1, 8), _ri(rng, 0, 6)
        n = r + b + g
        same = math.comb(r, 2) + math.comb(b, 2) + math.comb(g, 2)
        tot = math.comb(n, 2)
        p = Fraction(same, tot)
        if zh:
            colors = f"{r}个红球、{b}个蓝球" + (f"和{g}个绿球" if g else "")
            problem = f"袋子里有{colors}。不放回地随机摸出两个球，两个球颜色相同的概率是多少？"
            steps = [f"共有 {n} 个球，摸两个的方法数为 \\(\\binom{{{n}}}{{2}} = {tot}\\)。",
                     f"同色的方法数：\\(\\binom{{{r}}}{{2}} + \\binom{{{b}}}{{2}}" + (f" + \\binom{{{g}}}{{2}}" if g else "") + f" = {same}\\)。",
                     f"概率为 \\(\\frac{{{same}}}{{{tot}}} = {_frac(p)}\\)。"]
            checks = [f"用顺序摸球验算：\\(\\frac{{{r}}}{{{n}}} \\cdot \\frac{{{r - 1}}}{{{n - 1}}} + \\frac{{{b}}}{{{n}}} \\cdot \\frac{{{b - 1}}}{{{n - 1}}}" + (f" + \\frac{{{g}}}{{{n}}} \\cdot \\frac{{{g - 1}}}{{{n - 1}}}" if g else "") + f" = {_frac(p)}\\)。"]
            alt = [f"也可以先算颜色不同的概率 \\({_frac(1 - p)}\\)，再用 1 减去它。"]
            target = "两球同色的概率"
        else:
            colors = f"{r} red and {b} blue balls" if not g else f"{r} red, {b} blue and {g} green balls"
            problem = f"A bag contains {colors}. Two balls are drawn at random without replacement. What is the probability that they are the same color?"
            steps = [f"There are {n} balls, so \\(\\binom{{{n}}}{{2}} = {tot}\\) ways to draw two.",
                     f"Same-color pairs: \\(\\binom{{{r}}}{{2}} + \\binom{{{b}}}{{2}}" + (f" + \\binom{{{g}}}{{2}}" if g else "") + f" = {same}\\).",
                     f"The probability is \\(\\frac{{{same}}}{{{tot}}} = {_frac(p)}\\)."]
            checks = [f"Drawing in order gives the same: \\(\\frac{{{r}}}{{{n}}} \\cdot \\frac{{{r - 1}}}{{{n - 1}}} + \\frac{{{b}}}{{{n}}} \\cdot \\frac{{{b - 1}}}{{{n - 1}}}" + (f" + \\frac{{{g}}}{{{n}}} \\cdot \\frac{{{g - 1}}}{{{n - 1}}}" if g else "") + f" = {_frac(p)}\\)."]
            alt = [f"Or compute the complement: different colors with probability \\({_frac(1 - p)}\\), and subtract from 1."]
            target = "the probability of drawing two balls of the same color"
        return _Prob(problem, _frac(p), steps, checks, [("*", n, n - 1), ("*", r, r - 1), ("*", b, b - 1), ("/", n * (n - 1), 2), ("+", math.comb(r, 2), math.comb(b, 2))] + ([("*", g, g - 1)] if g > 1 else []), target, alt)
    if kind == "dice2":
        s = _ri(rng, 4, 11)
        pairs = [(i, j) for i in range(1, 7) for j in range(1, 7) if i + j >= s]
        p = Fraction(len(pairs), 36)
        below = 36 - len(pairs)
        if zh:
            problem = f"同时掷两枚均匀的骰子，点数之和至少为{s}的概率是多少？"
            steps = ["两枚骰子共有 36 种等可能的结果。",
                     f"逐个看第一枚骰子的点数 1 到 6，第二枚需要至少 {s} 减去它：符合的个数依次为 " + "、".join(str(sum(1 for j in range(1, 7) if i + j >= s)) for i in range(1, 7)) + f"，共 {len(pairs)} 种。",
                     f"概率为 \\(\\frac{{{len(pairs)}}}{{36}} = {_frac(p)}\\)。"]
            checks = [f"反过来数：点数和小于 {s} 的有 {below} 种，\\({below} + {len(pairs)} = 36\\)。"]
            alt = [f"也可以用 1 减去点数和小于 {s} 的概率：\\(1 - \\frac{{{below}}}{{36}} = {_frac(p)}\\)。"]
            target = f"点数和至少为{s}的概率"
        else:
            problem = f"Two fair dice are rolled. What is the probability that the sum is at least {s}?"
            steps = ["There are 36 equally likely outcomes.",
                     f"For a first die showing 1 through 6, the second die must make up at least {s}; the counts are " + ", ".join(str(sum(1 for j in range(1, 7) if i + j >= s)) for i in range(1, 7)) + f", {len(pairs)} in total.",
                     f"So the probability is \\(\\frac{{{len(pairs)}}}{{36}} = {_frac(p)}\\)."]
            checks = [f"Counting the other way: {below} outcomes have a sum below {s}, and \\({below} + {len(pairs)} = 36\\)."]
            alt = [f"Or take the complement: \\(1 - \\frac{{{below}}}{{36}} = {_frac(p)}\\)."]
            target = f"the probability of a sum of at least {s}"
        return _Prob(problem, _frac(p), steps, checks, [("-", 36, below), ("*", 6, 6)], target, alt)
    if kind == "dice":
        s = _ri(rng, 2, 12)
        pairs = [(i, s - i) for i in range(1, 7) if 1 <= s - i <= 6]
        p = Fraction(len(pairs), 36)
        listing = ", ".join(f"({i}, {j})" for i, j in pairs)
        if zh:
            problem = f"同时掷两枚均匀的骰子，点数之和为{s}的概率是多少？"
            steps = ["两枚骰子共有 \\(6 \\times 6 = 36\\) 种等可能结果。", f"点数和为 {s} 的结果有：{listing}，共 {len(pairs)} 种。",
                     f"概率为 \\(\\frac{{{len(pairs)}}}{{36}} = {_frac(p)}\\)。"]
            checks = [f"点数和的分布关于 7 对称，和为 {s} 与和为 {14 - s} 的情况数相同，都是 {len(pairs)}。"]
            alt = [f"也可以固定第一枚骰子的点数，看第二枚能否补足到 {s}，同样得到 {len(pairs)} 种。"]
            target = f"点数和为{s}的概率"
        else:
            problem = f"Two fair six-sided dice are rolled. What is the probability that the sum is {s}?"
            steps = ["There are \\(6 \\times 6 = 36\\) equally likely outcomes.", f"The outcomes with sum {s} are {listing}: {len(pairs)} of them.",
                     f"So the probability is \\(\\frac{{{len(pairs)}}}{{36}} = {_frac(p)}\\)."]
            checks = [f"By the symmetry of sums around 7, sum {s} and sum {14 - s} have the same count, {len(pairs)}."]
            alt = [f"Fixing the first die and asking whether the second can make up {s} gives the same {len(pairs)} cases."]
            target = f"the probability of a sum of {s}"
        return _Prob(problem, _frac(p), steps, checks, [("+", i, s - i) for i, _ in pairs] + [("*", 6, 6)], target, alt)
    if kind == "exact":
        n = _ri(rng, 3, 10)
        k = _ri(rng, 1, n - 1)
        ways = math.comb(n, k)
        p = Fraction(ways, 2 ** n)
        if zh:
            problem = f"连续抛掷一枚均匀硬币{n}次，恰好出现{k}次正面的概率是多少？"
            steps = [f"共有 \\(2^{{{n}}} = {2 ** n}\\) 种等可能的结果。", f"恰好 {k} 次正面的结果数是 \\(\\binom{{{n}}}{{{k}}} = {ways}\\)。",
                     f"所以概率为 \\(\\frac{{{ways}}}{{{2 ** n}}} = {_frac(p)}\\)。"]
            checks = [f"对称性检验：恰好 {n - k} 次正面的结果数 \\(\\binom{{{n}}}{{{n - k}}}\\) 也是 {ways}。"]
            alt = [f"也可以用二项分布公式 \\(\\binom{{{n}}}{{{k}}}\\left(\\frac{{1}}{{2}}\\right)^{{{k}}}\\left(\\frac{{1}}{{2}}\\right)^{{{n - k}}}\\)，结果相同。"]
            target = f"恰好{k}次正面的概率"
        else:
            problem = f"A fair coin is tossed {n} times. What is the probability of getting exactly {k} heads?"
            steps = [f"There are \\(2^{{{n}}} = {2 ** n}\\) equally likely outcomes.", f"Outcomes with exactly {k} heads: \\(\\binom{{{n}}}{{{k}}} = {ways}\\).",
                     f"So the probability is \\(\\frac{{{ways}}}{{{2 ** n}}} = {_frac(p)}\\)."]
            checks = [f"By symmetry, exactly {n - k} heads also has \\(\\binom{{{n}}}{{{n - k}}} = {ways}\\) outcomes."]
            alt = [f"The binomial formula \\(\\binom{{{n}}}{{{k}}}\\left(\\frac{{1}}{{2}}\\right)^{{{k}}}\\left(\\frac{{1}}{{2}}\\right)^{{{n - k}}}\\) gives the same value."]
            target = f"the probability of exactly {k} heads"
        return _Prob(problem, _frac(p), steps, checks, [("*", 2 ** i, 2) for i in range(1, n)] + [("/", math.perm(n, k), math.factorial(k))], target, alt)
    n = _ri(rng, 2, 8)
    p = 1 - Fraction(1, 2 ** n)
    if zh:
        problem = f"连续抛掷一枚均匀硬币{n}次，至少出现一次正面的概率是多少？"
        steps = [f"反面事件是{n}次全是反面，概率为 \\(\\left(\\frac{{1}}{{2}}\\right)^{{{n}}} = \\frac{{1}}{{{2 ** n}}}\\)。", f"所以所求概率为 \\(1 - \\frac{{1}}{{{2 ** n}}} = {_frac(p)}\\)。"]
        checks = [f"共有 \\(2^{{{n}}} = {2 ** n}\\) 种结果，只有 1 种没有正面，所以 {2 ** n - 1} 种符合。"]
        alt = ["也可以按第一次出现正面的位置分类相加：" + " + ".join(f"\\frac{{1}}{{{2 ** i}}}" for i in range(1, n + 1)) + f" = {_frac(p)}。"]
        target = "至少一次正面的概率"
    else:
        problem = f"A fair coin is tossed {n} times. What is the probability of getting at least one head?"
        steps = [f"The complement is all tails, with probability \\(\\left(\\frac{{1}}{{2}}\\right)^{{{n}}} = \\frac{{1}}{{{2 ** n}}}\\).", f"So the probability is \\(1 - \\frac{{1}}{{{2 ** n}}} = {_frac(p)}\\)."]
        checks = [f"Of the \\(2^{{{n}}} = {2 ** n}\\) outcomes only one has no head, so {2 ** n - 1} qualify."]
        alt = ["Summing over the position of the first head: " + " + ".join(f"\\frac{{1}}{{{2 ** i}}}" for i in range(1, n + 1)) + f" = {_frac(p)}."]
        target = "the probability of at least one head"
    return _Prob(problem, _frac(p), steps, checks, [("*", 2 ** i, 2) for i in range(1, n)] + [("-", 2 ** n, 1)], target, alt)


def _factor_tex(n: int) -> str:
    parts, m, p = [], n, 2
    while p * p <= m:
        e = 0
        while m % p == 0:
            m //= p
            e += 1
        if e:
            parts.append(f"{p}^{{{e}}}" if e > 1 else str(p))
        p += 1
    if m > 1:
        parts.append(str(m))
    return " \\cdot ".join(parts)


def _f_gcd_lcm(rng: random.Random, zh: int) -> _Prob:
    if rng.random() < 0.5:
        a, b = _ri(rng, 4, 30), _ri(rng, 4, 30)
        while a == b:
            b = _ri(rng, 4, 30)
        L = a * b // math.gcd(a, b)
        if zh:
            problem = f"两路公交车早上同时从车站发车，一路每{a}分钟发一班，另一路每{b}分钟发一班。至少再过多少分钟两路车会再次同时发车？"
            steps = [f"所求时间是 {a} 和 {b} 的最小公倍数。", f"分解质因数：\\({a} = {_factor_tex(a)}\\)，\\({b} = {_factor_tex(b)}\\)。",
                     f"\\(\\gcd({a}, {b}) = {math.gcd(a, b)}\\)，所以 \\(\\operatorname{{lcm}}({a}, {b}) = \\frac{{{a} \\times {b}}}{{{math.gcd(a, b)}}} = {L}\\)。"]
            checks = [f"验算：\\({L} \\div {a} = {L // a}\\)，\\({L} \\div {b} = {L // b}\\)，都是整数。"]
            alt = [f"列出 {a} 的倍数：" + ", ".join(str(a * i) for i in range(1, min(L // a, 8) + 1)) + f"……第一个同时是 {b} 的倍数的是 {L}。"]
            target = "再次同时发车的最短间隔"
        else:
            problem = f"Two bus lines leave the station together in the morning. One departs every {a} minutes and the other every {b} minutes. After how many minutes will they next depart together?"
            steps = [f"We need the least common multiple of {a} and {b}.", f"Factor: \\({a} = {_factor_tex(a)}\\) and \\({b} = {_factor_tex(b)}\\).",
                     f"\\(\\gcd({a}, {b}) = {math.gcd(a, b)}\\), so \\(\\operatorname{{lcm}}({a}, {b}) = \\frac{{{a} \\cdot {b}}}{{{math.gcd(a, b)}}} = {L}\\)."]
            checks = [f"Check: \\({L} / {a} = {L // a}\\) and \\({L} / {b} = {L // b}\\), both whole numbers."]
            alt = [f"Listing multiples of {a}: " + ", ".join(str(a * i) for i in range(1, min(L // a, 8) + 1)) + f", ... the first that is also a multiple of {b} is {L}."]
            target = "the time until they depart together again"
        return _Prob(problem, str(L), steps, checks, [("*", a, b), ("/", a * b, math.gcd(a, b)), ("/", L, a), ("/", L, b)] + [("*", a, i) for i in range(2, min(L // a, 8) + 1)], target, alt)
    g = _ri(rng, 2, 25)
    p, q = _ri(rng, 2, 12), _ri(rng, 2, 12)
    while math.gcd(p, q) != 1:
        q = _ri(rng, 2, 12)
    W, Ln = g * p, g * q
    if zh:
        problem = f"一块长方形地面长{W}分米、宽{Ln}分米，要用同样大小的正方形地砖恰好铺满（不切割）。地砖的边长最大是多少分米？"
        steps = [f"地砖边长必须同时整除 {W} 和 {Ln}，最大的就是最大公约数。", f"用辗转相除法求 \\(\\gcd({W}, {Ln})\\)，结果为 {g}。",
                 f"所以地砖边长最大为 {g} 分米，共需 \\({p} \\times {q} = {p * q}\\) 块。"]
        checks = [f"验算：\\({W} \\div {g} = {p}\\)，\\({Ln} \\div {g} = {q}\\)，且 {p} 与 {q} 互质，不能更大。"]
        alt = [f"分解质因数：\\({W} = {_factor_tex(W)}\\)，\\({Ln} = {_factor_tex(Ln)}\\)，公共部分的乘积是 {g}。"]
        target = "地砖的最大边长"
    else:
        problem = f"A rectangular floor measures {W} dm by {Ln} dm. It is to be covered exactly by identical square tiles without cutting. What is the largest possible side length of a tile, in dm?"
        steps = [f"The tile side must divide both {W} and {Ln}; the largest such number is their greatest common divisor.",
                 f"The Euclidean algorithm gives \\(\\gcd({W}, {Ln}) = {g}\\).", f"So the largest tile is {g} dm, and \\({p} \\times {q} = {p * q}\\) tiles are needed."]
        checks = [f"Check: \\({W} / {g} = {p}\\) and \\({Ln} / {g} = {q}\\), and {p} and {q} share no factor, so nothing larger works."]
        alt = [f"By factoring, \\({W} = {_factor_tex(W)}\\) and \\({Ln} = {_factor_tex(Ln)}\\); the common part is {g}."]
        target = "the largest tile side"
    return _Prob(problem, str(g), steps, checks, [("/", W, g), ("/", Ln, g), ("*", g, p), ("*", g, q), ("*", p, q)], target, alt)


def _f_modular(rng: random.Random, zh: int) -> _Prob:
    base = _ri(rng, 2, 19)
    e = _ri(rng, 20, 2025)
    m = _pick(rng, (10, 10, 7, 9, 11, 13))
    cycle, v = [], base % m
    seen: dict[int, int] = {}
    while v not in seen:
        seen[v] = len(cycle)
        cycle.append(v)
        v = v * base % m
    start = seen[v]
    period = len(cycle) - start
    idx = e - 1
    ans = cycle[idx] if idx < len(cycle) else cycle[start + (idx - start) % period]
    shown = ", ".join(f"{base}^{{{i + 1}}} \\equiv {c}" for i, c in enumerate(cycle))
    if zh:
        problem = f"求 \\({base}^{{{e}}}\\) 的个位数字。" if m == 10 else f"求 \\({base}^{{{e}}}\\) 除以 {m} 的余数。"
        steps = [f"逐个计算幂模 {m}：\\({shown}\\)（模 {m}）。",
                 f"从第 {start + 1} 项起以 {period} 为周期循环。",
                 f"\\({e}\\) 对应循环中的位置：\\(({e} - {start + 1}) \\bmod {period} = {(e - start - 1) % period}\\)，所以{'个位数字' if m == 10 else '余数'}是 {ans}。"]
        checks = [f"再核对一下循环：\\({cycle[-1]} \\times {base} = {cycle[-1] * base}\\)，模 {m} 余 {cycle[-1] * base % m}，确实回到了循环的开头。"]
        alt = ["也可以用欧拉定理缩小指数，再计算剩下的幂，结果一致。"]
        target = "个位数字" if m == 10 else f"除以 {m} 的余数"
    else:
        problem = f"What is the units digit of \\({base}^{{{e}}}\\)?" if m == 10 else f"What is the remainder when \\({base}^{{{e}}}\\) is divided by {m}?"
        steps = [f"Compute powers modulo {m}: \\({shown}\\) (mod {m}).",
                 f"From term {start + 1} on, the residues repeat with period {period}.",
                 f"For exponent {e}: \\(({e} - {start + 1}) \\bmod {period} = {(e - start - 1) % period}\\), which points to {ans}."]
        checks = [f"Double-check the cycle: \\({cycle[-1]} \\cdot {base} = {cycle[-1] * base}\\), which is {cycle[-1] * base % m} mod {m}, back at the start of the cycle."]
        alt = ["Euler's theorem would reduce the exponent the same way and lead to the same residue."]
        target = "the units digit" if m == 10 else f"the remainder mod {m}"
    return _Prob(problem, str(ans), steps, checks, [("*", c, base) for c in cycle] + [("/", c * base, m) for c in cycle] + [("/", e - start - 1, period)], target, alt)


def _f_work(rng: random.Random, zh: int) -> _Prob:
    a, b = _ri(rng, 2, 15), _ri(rng, 2, 15)
    t = Fraction(a * b, a + b)
    n1, n2 = _pick(rng, _NAMES[zh]), _pick(rng, _NAMES[zh])
    while n2 == n1:
        n2 = _pick(rng, _NAMES[zh])
    if zh:
        problem = _pick(rng, (f"一项工作，{n1}单独做需要{a}小时完成，{n2}单独做需要{b}小时完成。两人合作需要多少小时完成？",
                              f"一个水池，甲管单独注满需要{a}小时，乙管单独注满需要{b}小时。两管同时打开，多少小时能注满？"))
        steps = [f"每小时分别完成 \\(\\frac{{1}}{{{a}}}\\) 和 \\(\\frac{{1}}{{{b}}}\\)。",
                 f"合作每小时完成 \\(\\frac{{1}}{{{a}}} + \\frac{{1}}{{{b}}} = \\frac{{{a + b}}}{{{a * b}}}\\)。",
                 f"所需时间 \\(= \\frac{{{a * b}}}{{{a + b}}} = {_dec(t)}\\) 小时。"]
        checks = [f"验算：\\({_dec(t)} \\times \\frac{{{a + b}}}{{{a * b}}} = 1\\)，正好完成全部工作。"]
        alt = [f"设合作需 \\(t\\) 小时：\\(\\frac{{t}}{{{a}}} + \\frac{{t}}{{{b}}} = 1\\)，解得 \\(t = {_dec(t)}\\)。"]
        target = "合作所需的时间"
    else:
        problem = _pick(rng, (f"{n1} can finish a job alone in {a} hours, and {n2} can finish it alone in {b} hours. Working together, how many hours do they need?",
                              f"One pipe fills a tank in {a} hours and another fills it in {b} hours. With both pipes open, how many hours does it take to fill the tank?"))
        steps = [f"Per hour the rates are \\(\\frac{{1}}{{{a}}}\\) and \\(\\frac{{1}}{{{b}}}\\) of the job.",
                 f"Together: \\(\\frac{{1}}{{{a}}} + \\frac{{1}}{{{b}}} = \\frac{{{a + b}}}{{{a * b}}}\\) of the job per hour.",
                 f"So the time is \\(\\frac{{{a * b}}}{{{a + b}}} = {_dec(t)}\\) hours."]
        checks = [f"Check: \\({_dec(t)} \\cdot \\frac{{{a + b}}}{{{a * b}}} = 1\\) whole job."]
        alt = [f"With \\(t\\) hours: \\(\\frac{{t}}{{{a}}} + \\frac{{t}}{{{b}}} = 1\\), giving \\(t = {_dec(t)}\\)."]
        target = "the time working together"
    return _Prob(problem, _dec(t), steps, checks, [("*", a, b), ("+", a, b)] + ([("/", a * b, math.gcd(a * b, a + b))] if a * b > 10 else []), target, alt)


def _f_average(rng: random.Random, zh: int) -> _Prob:
    for _ in range(100):
        k = _ri(rng, 3, 6)
        scores = [_ri(rng, 60, 98) for _ in range(k)]
        target_avg = _ri(rng, 75, 92)
        need = target_avg * (k + 1) - sum(scores)
        if 50 <= need <= 100:
            break
    else:  # pragma: no cover
        k, scores, target_avg = 3, [80, 85, 90], 85
        need = 85
    name = _pick(rng, _NAMES[zh])
    lst = ", ".join(map(str, scores))
    S = sum(scores)
    if zh:
        problem = f"{name}前{k}次测验的成绩分别是 {lst}。要使{k + 1}次测验的平均分恰好为{target_avg}分，第{k + 1}次需要考多少分？"
        steps = [f"前{k}次总分：\\({' + '.join(map(str, scores))} = {S}\\)。",
                 f"{k + 1}次平均{target_avg}分，总分应为 \\({target_avg} \\times {k + 1} = {target_avg * (k + 1)}\\)。",
                 f"所以第{k + 1}次需要 \\({target_avg * (k + 1)} - {S} = {need}\\) 分。"]
        checks = [f"验算：\\(({S} + {need}) \\div {k + 1} = {target_avg * (k + 1)} \\div {k + 1} = {target_avg}\\)。"]
        alt = [f"用偏差法：各次成绩与 {target_avg} 的差为 " + ", ".join(str(s - target_avg) for s in scores) + f"，合计 {S - target_avg * k}，所以最后一次要比 {target_avg} 多 {need - target_avg}。"]
        target = f"第{k + 1}次需要的分数"
    else:
        problem = f"{name} scored {lst} on the first {k} quizzes. What score is needed on quiz {k + 1} for the average of all {k + 1} quizzes to be exactly {target_avg}?"
        steps = [f"The first {k} scores total \\({' + '.join(map(str, scores))} = {S}\\).",
                 f"An average of {target_avg} over {k + 1} quizzes needs a total of \\({target_avg} \\times {k + 1} = {target_avg * (k + 1)}\\).",
                 f"So the last quiz needs \\({target_avg * (k + 1)} - {S} = {need}\\)."]
        checks = [f"Check: \\(({S} + {need}) / {k + 1} = {target_avg * (k + 1)} / {k + 1} = {target_avg}\\)."]
        alt = [f"Using deviations from {target_avg}: " + ", ".join(str(s - target_avg) for s in scores) + f", which sum to {S - target_avg * k}; the last score must offset that, i.e. be {need - target_avg} away from {target_avg}."]
        target = "the score needed on the last quiz"
    return _Prob(problem, str(need), steps, checks, [("*", target_avg, k + 1), ("-", target_avg * (k + 1), S)] + [("+", sum(scores[:i]), scores[i]) for i in range(1, k)], target, alt)


def _f_interest(rng: random.Random, zh: int) -> _Prob:
    P = 1000 * _ri(rng, 1, 20)
    r = _pick(rng, (2, 3, 4, 5, 10, 20))
    n = _ri(rng, 2, 3)
    compound = rng.random() < 0.6
    if compound:
        amount = P * Fraction(100 + r, 100) ** n
        seq, v = [], Fraction(P)
        for _ in range(n):
            v = v * Fraction(100 + r, 100)
            seq.append(v)
    else:
        amount = P + Fraction(P * r * n, 100)
        seq = []
    name = _pick(rng, _NAMES[zh])
    if zh:
        kind = "复利" if compound else "单利"
        problem = f"{name}把{P}元存入银行，年利率{r}\\%，按{kind}计算。{n}年后本息合计多少元？"
        if compound:
            steps = [f"每年本息变为原来的 \\(1 + {r}\\% = {_dec(Fraction(100 + r, 100))}\\) 倍。"] + \
                    [f"第{i + 1}年末：\\({_dec(seq[i])}\\) 元。" for i in range(n)]
            alt = [f"直接用公式 \\({P} \\times {_dec(Fraction(100 + r, 100))}^{{{n}}} = {_dec(amount)}\\)。"]
        else:
            steps = [f"每年利息 \\({P} \\times {r}\\% = {P * r // 100}\\) 元。", f"{n}年利息 \\({P * r // 100} \\times {n} = {P * r * n // 100}\\) 元。",
                     f"本息合计 \\({P} + {P * r * n // 100} = {_dec(amount)}\\) 元。"]
            alt = [f"也可以写成 \\({P} \\times (1 + {n} \\times {r}\\%) = {_dec(amount)}\\)。"]
        checks = [f"验算：利息占本金的 \\(\\frac{{{_dec(amount - P)}}}{{{P}}}\\)，" + ("略高于" if compound else "正好是") + f" {r * n}\\%。"]
        target = "本息合计"
    else:
        kind = "compounded annually" if compound else "as simple interest"
        problem = f"{name} deposits \\${P} at an annual interest rate of {r}\\%, {kind}. How much is in the account after {n} years, in dollars?"
        if compound:
            steps = [f"Each year the balance is multiplied by \\(1 + {r}\\% = {_dec(Fraction(100 + r, 100))}\\)."] + \
                    [f"After year {i + 1}: \\({_dec(seq[i])}\\) dollars." for i in range(n)]
            alt = [f"Directly: \\({P} \\cdot {_dec(Fraction(100 + r, 100))}^{{{n}}} = {_dec(amount)}\\)."]
        else:
            steps = [f"Interest per year is \\({P} \\times {r}\\% = {P * r // 100}\\) dollars.", f"Over {n} years that is \\({P * r // 100} \\times {n} = {P * r * n // 100}\\) dollars.",
                     f"The balance is \\({P} + {P * r * n // 100} = {_dec(amount)}\\) dollars."]
            alt = [f"In one line: \\({P}(1 + {n} \\cdot {r}\\%) = {_dec(amount)}\\)."]
        checks = [f"Check: the interest, {_dec(amount - P)}, is " + ("a little more than" if compound else "exactly") + f" {r * n}\\% of {P}."]
        target = "the final balance"
    return _Prob(problem, _dec(amount), steps, checks, [("*", P, r), ("*", P // 100, r), ("*", P * r // 100, n)] + [("*", P, 100 + r)], target, alt)


def _f_multiples(rng: random.Random, zh: int) -> _Prob:
    a = _ri(rng, 2, 9)
    b = _ri(rng, 2, 13)
    while b == a or b % a == 0 or a % b == 0:
        b = _ri(rng, 2, 13)
    N = _ri(rng, 50, 1000)
    L = a * b // math.gcd(a, b)
    ans = N // a + N // b - N // L
    if zh:
        problem = f"在 1 到 {N} 的整数中，能被 {a} 或 {b} 整除的数有多少个？"
        steps = [f"能被 {a} 整除的有 \\(\\lfloor {N}/{a} \\rfloor = {N // a}\\) 个。", f"能被 {b} 整除的有 \\(\\lfloor {N}/{b} \\rfloor = {N // b}\\) 个。",
                 f"同时能被两者整除即能被 {L} 整除的有 \\(\\lfloor {N}/{L} \\rfloor = {N // L}\\) 个。", f"由容斥原理，共 \\({N // a} + {N // b} - {N // L} = {ans}\\) 个。"]
        checks = [f"验算：\\({a} \\times {N // a} = {a * (N // a)} \\le {N}\\)，而 \\({a} \\times {N // a + 1} = {a * (N // a + 1)} > {N}\\)。"]
        alt = [f"也可以先算都不能整除的个数 \\({N} - {ans} = {N - ans}\\)，再用总数减去。"]
        target = f"能被 {a} 或 {b} 整除的整数个数"
    else:
        problem = f"How many integers from 1 to {N} are divisible by {a} or {b}?"
        steps = [f"Multiples of {a}: \\(\\lfloor {N}/{a} \\rfloor = {N // a}\\).", f"Multiples of {b}: \\(\\lfloor {N}/{b} \\rfloor = {N // b}\\).",
                 f"Multiples of both, i.e. of {L}: \\(\\lfloor {N}/{L} \\rfloor = {N // L}\\).", f"By inclusion-exclusion: \\({N // a} + {N // b} - {N // L} = {ans}\\)."]
        checks = [f"Check: \\({a} \\cdot {N // a} = {a * (N // a)} \\le {N}\\) while \\({a} \\cdot {N // a + 1} = {a * (N // a + 1)} > {N}\\)."]
        alt = [f"Equivalently, {N - ans} numbers are divisible by neither, and \\({N} - {N - ans} = {ans}\\)."]
        target = f"the count of integers divisible by {a} or {b}"
    return _Prob(problem, str(ans), steps, checks, [("*", a, N // a), ("+", N // a, N // b), ("-", N // a + N // b, N // L)], target, alt)


def _f_function(rng: random.Random, zh: int) -> _Prob:
    a, b = _ri(rng, -5, 6) or 2, _ri(rng, -9, 9)
    c, d = _ri(rng, 1, 4), _ri(rng, -6, 6)
    k = _ri(rng, -4, 5)
    g = c * k * k + d
    f = a * g + b
    fx = _expr([(a, "x"), (b, "")])
    gx = _expr([(c, "x^2"), (d, "")])
    if zh:
        problem = f"已知 \\(f(x) = {fx}\\)，\\(g(x) = {gx}\\)，求 \\(f(g({k}))\\)。"
        steps = [f"先算 \\(g({k}) = {c} \\times {_paren(k)}^2 + {_paren(d)} = {c * k * k} + {_paren(d)} = {g}\\)。",
                 f"再算 \\(f({g}) = {a} \\times {_paren(g)} + {_paren(b)} = {a * g} + {_paren(b)} = {f}\\)。"]
        checks = [f"也可以先求复合函数 \\(f(g(x)) = {_expr([(a * c, 'x^2'), (a * d + b, '')])}\\)，代入 \\(x = {k}\\) 得 {f}。"]
        alt = [f"复合函数 \\(f(g(x)) = {a}({gx}) + {_paren(b)} = {_expr([(a * c, 'x^2'), (a * d + b, '')])}\\)。"]
        target = f"\\(f(g({k}))\\)"
    else:
        problem = f"Let \\(f(x) = {fx}\\) and \\(g(x) = {gx}\\). Find \\(f(g({k}))\\)."
        steps = [f"First, \\(g({k}) = {c} \\cdot {_paren(k)}^2 + {_paren(d)} = {c * k * k} + {_paren(d)} = {g}\\).",
                 f"Then \\(f({g}) = {a} \\cdot {_paren(g)} + {_paren(b)} = {a * g} + {_paren(b)} = {f}\\)."]
        checks = [f"Composing first, \\(f(g(x)) = {_expr([(a * c, 'x^2'), (a * d + b, '')])}\\), and at \\(x = {k}\\) this is {f}."]
        alt = [f"The composite is \\(f(g(x)) = {a}({gx}) + {_paren(b)} = {_expr([(a * c, 'x^2'), (a * d + b, '')])}\\)."]
        target = f"\\(f(g({k}))\\)"
    return _Prob(problem, str(f), steps, checks, [("*", abs(k), abs(k)), ("*", c, k * k), ("+", c * k * k, d) if d >= 0 else ("-", c * k * k, -d)] + ([("*", abs(a), abs(g))] if g else []) + [("*", abs(a * c), k * k)], target, alt)


def _f_exponent(rng: random.Random, zh: int) -> _Prob:
    base = _pick(rng, (2, 3, 5))
    emax = {2: 12, 3: 7, 5: 5}[base]
    e = _ri(rng, 2, emax)
    p = _ri(rng, 1, 3)
    x = _ri(rng, -3, 6)
    q = e - p * x
    lhs = _expr([(p, "x"), (q, "")])
    val = base ** e
    if zh:
        problem = f"解方程 \\({base}^{{{lhs}}} = {val}\\)。"
        steps = [f"把右边写成 {base} 的幂：\\({val} = {base}^{{{e}}}\\)。", f"指数相等：\\({lhs} = {e}\\)。",
                 f"所以 \\({_expr([(p, 'x')])} = {e} - {_paren(q)} = {e - q}\\)，\\(x = {x}\\)。"]
        checks = [f"验算：\\({p} \\times {_paren(x)} + {_paren(q)} = {e}\\)，\\({base}^{{{e}}} = {val}\\)。"]
        alt = [f"两边取以 {base} 为底的对数：\\({lhs} = \\log_{{{base}}} {val} = {e}\\)，结果相同。"]
        target = "\\(x\\) 的值"
    else:
        problem = f"Solve \\({base}^{{{lhs}}} = {val}\\)."
        steps = [f"Write the right side as a power of {base}: \\({val} = {base}^{{{e}}}\\).", f"Equate exponents: \\({lhs} = {e}\\).",
                 f"So \\({_expr([(p, 'x')])} = {e} - {_paren(q)} = {e - q}\\), and \\(x = {x}\\)."]
        checks = [f"Check: \\({p} \\cdot {_paren(x)} + {_paren(q)} = {e}\\) and \\({base}^{{{e}}} = {val}\\)."]
        alt = [f"Taking \\(\\log_{{{base}}}\\) of both sides gives \\({lhs} = {e}\\) directly."]
        target = "\\(x\\)"
    return _Prob(problem, str(x), steps, checks, [("*", base ** i, base) for i in range(1, e)] + [("*", p, abs(x))], target, alt)


def _f_abs_ineq(rng: random.Random, zh: int) -> _Prob:
    a, b = _ri(rng, -10, 10), _ri(rng, 2, 12)
    strict = rng.random() < 0.5
    lo, hi = (a - b + 1, a + b - 1) if strict else (a - b, a + b)
    cnt = hi - lo + 1
    ask_sum = rng.random() < 0.4
    ans = (lo + hi) * cnt // 2 if ask_sum else cnt
    rel = "<" if strict else "\\le"
    ineq = f"|x {'-' if a >= 0 else '+'} {abs(a)}| {rel} {b}" if a else f"|x| {rel} {b}"
    if zh:
        problem = f"满足 \\({ineq}\\) 的整数 \\(x\\) " + ("的和是多少？" if ask_sum else "有多少个？")
        steps = [f"去掉绝对值：\\({-b} {rel} x - {_paren(a)} {rel} {b}\\)，即 \\({a - b} {rel} x {rel} {a + b}\\)。",
                 f"整数解从 {lo} 到 {hi}，共 \\({hi} - {_paren(lo)} + 1 = {cnt}\\) 个。"]
        if ask_sum:
            steps.append(f"这些整数关于 {a} 对称，和为 \\({a} \\times {cnt} = {ans}\\)。")
        checks = [f"验算端点：\\(x = {hi}\\) 时 \\(|{hi} - {_paren(a)}| = {hi - a}\\)，满足；\\(x = {hi + 1}\\) 时为 {hi + 1 - a}，不满足。"]
        alt = [f"几何意义：到 {a} 的距离" + ("小于" if strict else "不超过") + f" {b} 的整数点。"]
        target = "整数解的和" if ask_sum else "整数解的个数"
    else:
        problem = f"How many integers \\(x\\) satisfy \\({ineq}\\)?" if not ask_sum else f"What is the sum of all integers \\(x\\) satisfying \\({ineq}\\)?"
        steps = [f"Remove the absolute value: \\({-b} {rel} x - {_paren(a)} {rel} {b}\\), i.e. \\({a - b} {rel} x {rel} {a + b}\\).",
                 f"The integer solutions run from {lo} to {hi}: \\({hi} - {_paren(lo)} + 1 = {cnt}\\) of them."]
        if ask_sum:
            steps.append(f"They are symmetric about {a}, so their sum is \\({a} \\cdot {cnt} = {ans}\\).")
        checks = [f"Check the endpoints: \\(x = {hi}\\) gives \\(|{hi} - {_paren(a)}| = {hi - a}\\), allowed; \\(x = {hi + 1}\\) gives {hi + 1 - a}, not allowed."]
        alt = [f"Geometrically, these are the integers whose distance from {a} is " + ("less than" if strict else "at most") + f" {b}."]
        target = "the sum of the integer solutions" if ask_sum else "the number of integer solutions"
    return _Prob(problem, str(ans), steps, checks, [("-", max(hi, lo), min(hi, lo)) if lo >= 0 else ("+", hi, -lo), ("*", abs(a), cnt), ("*", 2, b)], target, alt)


def _f_polygon(rng: random.Random, zh: int) -> _Prob:
    n = _pick(rng, (5, 6, 8, 9, 10, 12, 15, 18, 20, 24, 30, 36))
    kind = _pick(rng, ("interior", "sum", "find_n"))
    total = 180 * (n - 2)
    each = total // n
    if zh:
        if kind == "interior":
            problem = f"正{n}边形的每个内角是多少度？"
            steps = [f"{n}边形内角和为 \\(({n} - 2) \\times 180^\\circ = {total}^\\circ\\)。", f"每个内角 \\(= {total} \\div {n} = {each}^\\circ\\)。"]
            ans = str(each)
        elif kind == "sum":
            problem = f"一个凸{n}边形的内角和是多少度？"
            steps = [f"从一个顶点出发可把多边形分成 \\({n} - 2 = {n - 2}\\) 个三角形。", f"内角和 \\(= {n - 2} \\times 180^\\circ = {total}^\\circ\\)。"]
            ans = str(total)
        else:
            problem = f"一个正多边形的每个内角都是 \\({each}^\\circ\\)。它有几条边？"
            steps = [f"每个外角是 \\(180^\\circ - {each}^\\circ = {180 - each}^\\circ\\)。", f"外角和为 \\(360^\\circ\\)，边数 \\(= 360 \\div {180 - each} = {n}\\)。"]
            ans = str(n)
        checks = [f"验算：外角 \\(360 \\div {n} = {360 // n}\\) 度，内角 \\(180 - {360 // n} = {each}\\) 度，一致。"]
        alt = ["也可以用外角和恒为 360 度来推算。"]
        target = {"interior": "每个内角的度数", "sum": "内角和", "find_n": "边数"}[kind]
    else:
        if kind == "interior":
            problem = f"What is the measure, in degrees, of each interior angle of a regular {n}-gon?"
            steps = [f"The interior angles of an {n}-gon sum to \\(({n} - 2) \\cdot 180^\\circ = {total}^\\circ\\)." if n in (8, 18) else f"The interior angles of a {n}-gon sum to \\(({n} - 2) \\cdot 180^\\circ = {total}^\\circ\\).",
                     f"Each angle is \\({total} / {n} = {each}^\\circ\\)."]
            ans = str(each)
        elif kind == "sum":
            problem = f"What is the sum of the interior angles of a convex polygon with {n} sides, in degrees?"
            steps = [f"Diagonals from one vertex cut it into \\({n} - 2 = {n - 2}\\) triangles.", f"So the angle sum is \\({n - 2} \\cdot 180^\\circ = {total}^\\circ\\)."]
            ans = str(total)
        else:
            problem = f"Each interior angle of a regular polygon measures \\({each}^\\circ\\). How many sides does it have?"
            steps = [f"Each exterior angle is \\(180^\\circ - {each}^\\circ = {180 - each}^\\circ\\).", f"Exterior angles sum to \\(360^\\circ\\), so there are \\(360 / {180 - each} = {n}\\) sides."]
            ans = str(n)
        checks = [f"Check: the exterior angle \\(360 / {n} = {360 // n}\\) degrees gives an interior angle of \\(180 - {360 // n} = {each}\\) degrees."]
        alt = ["The exterior-angle sum of 360 degrees gives the same result."]
        target = {"interior": "each interior angle", "sum": "the interior angle sum", "find_n": "the number of sides"}[kind]
    return _Prob(problem, ans, steps, checks, [("*", n - 2, 180), ("/", total, n), ("-", 180, each), ("/", 360, 180 - each), ("*", each, n)], target, alt)


def _f_divisors(rng: random.Random, zh: int) -> _Prob:
    primes = (2, 3, 5, 7, 11, 13)
    while True:
        N, exps = 1, []
        for p in primes[:_ri(rng, 2, 4)]:
            e = _ri(rng, 0, 4)
            if e:
                exps.append((p, e))
                N *= p ** e
        if len(exps) >= 2 and 30 <= N <= 200000:
            break
    cnt = 1
    for _, e in exps:
        cnt *= e + 1
    fac = " \\cdot ".join(f"{p}^{{{e}}}" if e > 1 else str(p) for p, e in exps)
    prod = " \\times ".join(f"({e} + 1)" for _, e in exps)
    if zh:
        problem = f"{N} 有多少个正约数？"
        steps = [f"分解质因数：\\({N} = {fac}\\)。", f"正约数个数 \\(= {prod} = {cnt}\\)。"]
        checks = [f"验算分解：" + " × ".join(str(p ** e) for p, e in exps) + f" = {N}。"]
        alt = ["每个约数由各质因数的指数选择唯一确定，所以是各指数加一后相乘。"]
        target = "正约数的个数"
    else:
        problem = f"How many positive divisors does {N} have?"
        steps = [f"Prime factorization: \\({N} = {fac}\\).", f"The number of divisors is \\({prod} = {cnt}\\)."]
        checks = [f"Check the factorization: " + " × ".join(str(p ** e) for p, e in exps) + f" = {N}."]
        alt = ["A divisor is fixed by choosing each prime's exponent independently, which is why the counts multiply."]
        target = "the number of positive divisors"
    pw = [p ** e for p, e in exps]
    ops = [("*", pw[0], pw[1])] + [("*", math.prod(pw[:i]), pw[i]) for i in range(2, len(pw))] + [("*", e + 1, 1) for _, e in exps]
    ops += [("*", math.prod(e + 1 for _, e in exps[:i]), exps[i][1] + 1) for i in range(1, len(exps))]
    return _Prob(problem, str(cnt), steps, checks, ops, target, alt)


def _f_stats(rng: random.Random, zh: int) -> _Prob:
    k = _ri(rng, 5, 9)
    data = [_ri(rng, 1, 60) for _ in range(k)]
    s = sorted(data)
    med = Fraction(s[k // 2]) if k % 2 else Fraction(s[k // 2 - 1] + s[k // 2], 2)
    mean = Fraction(sum(data), k)
    ask = _pick(rng, ("median", "mean", "range"))
    lst = ", ".join(map(str, data))
    if zh:
        problem = f"数据 {lst} 的" + {"median": "中位数", "mean": "平均数", "range": "极差"}[ask] + "是多少？"
        steps = [f"从小到大排列：{', '.join(map(str, s))}。"]
        if ask == "median":
            steps.append(f"共 {k} 个数，" + (f"中间的是第 {k // 2 + 1} 个：{s[k // 2]}。" if k % 2 else f"中间两个是 {s[k // 2 - 1]} 和 {s[k // 2]}，中位数为 \\(\\frac{{{s[k // 2 - 1]} + {s[k // 2]}}}{{2}} = {_dec(med)}\\)。"))
            ans = _dec(med)
        elif ask == "mean":
            steps.append(f"总和 \\({' + '.join(map(str, data))} = {sum(data)}\\)，平均数 \\(= {sum(data)} \\div {k} = {_dec(mean)}\\)。")
            ans = _dec(mean)
        else:
            steps.append(f"最大值 {s[-1]}，最小值 {s[0]}，极差 \\(= {s[-1]} - {s[0]} = {s[-1] - s[0]}\\)。")
            ans = str(s[-1] - s[0])
        checks = ["重新数一遍数据个数和排序，没有遗漏。"]
        alt = ["也可以不完全排序，只找出需要的数。"]
        target = {"median": "中位数", "mean": "平均数", "range": "极差"}[ask]
    else:
        problem = f"What is the {ask} of the data set {lst}?"
        steps = [f"In increasing order: {', '.join(map(str, s))}."]
        if ask == "median":
            steps.append(f"There are {k} values, " + (f"so the median is the {_ordinal_en(k // 2 + 1)}: {s[k // 2]}." if k % 2 else f"so the median is the mean of {s[k // 2 - 1]} and {s[k // 2]}: \\(\\frac{{{s[k // 2 - 1]} + {s[k // 2]}}}{{2}} = {_dec(med)}\\)."))
            ans = _dec(med)
        elif ask == "mean":
            steps.append(f"The sum is \\({' + '.join(map(str, data))} = {sum(data)}\\), so the mean is \\({sum(data)} / {k} = {_dec(mean)}\\).")
            ans = _dec(mean)
        else:
            steps.append(f"The largest value is {s[-1]} and the smallest is {s[0]}, so the range is \\({s[-1]} - {s[0]} = {s[-1] - s[0]}\\).")
            ans = str(s[-1] - s[0])
        checks = ["Recounting the values and re-sorting confirms nothing was dropped."]
        alt = ["A partial sort that only locates the needed values would also do."]
        target = f"the {ask}"
    return _Prob(problem, ans, steps, checks, [("+", sum(data[:i]), data[i]) for i in range(1, k)] + [("/", sum(data), k), ("-", s[-1], s[0])], target, alt)


_FAMILIES: tuple[Callable[[random.Random, int], _Prob], ...] = (
    _f_shopping, _f_discount, _f_percent_change, _f_linear, _f_ages, _f_system, _f_quadratic,
    _f_geometry, _f_geometry, _f_combinatorics, _f_combinatorics, _f_arith_seq, _f_geo_seq,
    _f_speed, _f_probability, _f_probability, _f_gcd_lcm, _f_modular, _f_work, _f_average,
    _f_interest, _f_multiples, _f_function, _f_exponent, _f_abs_ineq, _f_polygon, _f_divisors,
    _f_stats,
)


# -- reasoning traces ----------------------------------------------------------------------

_OPENERS = (
    ("Okay, so I need to find {target}. Let me read the problem carefully first.",
     "Alright, let's see. The problem asks for {target}.",
     "Okay, let me try to work through this step by step. We need {target}.",
     "Hmm, let's tackle this. First I want to be clear about what is being asked: {target}.",
     "Let me think about how to approach this. The goal is {target}.",
     "Okay, so the question is about {target}. Let me start by writing down what I know."),
    ("嗯，我现在要解决这个问题，题目要求的是{target}。先仔细读一下题目。",
     "好的，我来看看这道题。题目问的是{target}。",
     "嗯，让我一步一步来。我们需要求出{target}。",
     "好，先理解一下题意：要求{target}。",
     "我先想想该怎么下手。目标是求{target}。",
     "嗯，这道题问的是{target}。先把已知条件整理一下。"),
)
_RESTATE = (("So the problem says: ", "Restating it: ", "In other words: "),
            ("题目是这样的：", "换句话说：", "把题目再读一遍："))
_CONNECT = (("", "", "So, ", "Okay, ", "Now, ", "Then ", "Next, ", "Right, "),
            ("", "", "那么", "然后", "接下来，", "所以", "好，", "这样，"))
_DECAP = frozenset(("The", "That", "This", "There", "Then", "Each", "Per", "Doubling", "Subtracting",
                    "Subtract", "Substituting", "Multiply", "Move", "Divide", "Expanding", "Hence",
                    "Therefore", "Length", "By", "From", "Together", "Relative", "As", "In",
                    "Altogether", "Taking", "After", "Prime", "Multiples", "First", "Convert", "Average",
                    "One", "Interest", "Over", "Equate", "Write", "Remove", "Revenue", "Simplify",
                    "Let", "It", "We", "Each", "Diagonals", "Compute", "For", "So", "A", "Of", "Order",
                    "Without", "Counting", "Check", "Directly", "Using", "Listing", "Factor", "If"))
_REREAD = (
    ("Wait, let me re-read the question to make sure I'm answering what is asked. It asks for {target}. Yes, that's what I'm computing.",
     "Hold on, what exactly is being asked? It's {target}. Good, I haven't drifted away from that.",
     "Let me make sure I didn't misread any numbers. Going back to the statement: {problem} Yes, the numbers I used match.",
     "Wait, I should double-check that I copied everything from the problem correctly. The statement again: {problem} Okay, that's consistent with what I used.",
     "Before going further, let me confirm the target once more: {target}. Right."),
    ("等等，我再读一遍题目，确认问的是什么。题目要求的是{target}，没错，我算的就是这个。",
     "先停一下，题目到底问什么？是{target}。好，方向没有偏。",
     "我得确认没有看错数字。回到题目：{problem} 对，我用的数据都对得上。",
     "等一下，再核对一遍题目条件：{problem} 嗯，和我用的一致。",
     "继续之前，再确认一下目标：{target}。对。"),
)
_DOUBT = (
    ("Hmm, is there a catch here? Sometimes these problems hide a trick, like a unit change or an extra condition. Looking again, I don't see one.",
     "Wait, could I have made an arithmetic slip somewhere? Let me look at the numbers more carefully.",
     "Hmm, that seems reasonable, but I shouldn't trust it without checking.",
     "Let me think about whether the answer even makes sense in size before I commit to it.",
     "Actually, hold on. Let me slow down and verify each piece instead of rushing.",
     "I want to be careful here, because it's easy to mix up which quantity is which."),
    ("嗯，这里会不会有陷阱？有些题会藏着单位换算或者额外条件。再看一遍，好像没有。",
     "等等，我会不会哪里算错了？再仔细看看这些数。",
     "嗯，看起来是合理的，但还是不能直接相信，得验证一下。",
     "在下结论之前，先想想这个结果的大小是否合理。",
     "不对，先别急。我把每一步都再核实一遍。",
     "这里要小心，很容易把两个量搞混。"),
)
_REDO = (("Let me go through the whole thing once more from the start.", "Okay, let me redo the computation to be safe.",
          "Let me retrace the steps one by one.", "Going over it again:"),
         ("我从头再算一遍。", "为了保险，重新计算一次。", "我把步骤一条一条再过一遍。", "再梳理一下："))
_ALT_INTRO = (("Actually, let me also try a different approach to confirm.", "Another way to see this:",
               "Let me cross-check with a second method.", "Hmm, maybe there's a quicker way."),
              ("换一种方法验证一下。", "也可以这样想：", "我用另一种方法交叉检验。", "嗯，也许有更快的办法。"))
_CHECK_INTRO = (("Let me verify.", "Now let me check this.", "Quick sanity check.", "Let me plug it back in."),
                ("验证一下。", "现在检查一下。", "简单核对一下。", "代回去检验。"))
_OK = (("Okay, that's consistent.", "Good, that matches.", "Alright, everything lines up.", "Yes, that works.",
        "Okay, no mistakes there.", "So that part is solid."),
       ("好，前后一致。", "对，吻合。", "嗯，都对得上。", "没问题。", "好，这一步没有错。", "这部分是可靠的。"))
_ANSWER_THINK = (("So the answer should be \\({ans}\\).", "Therefore, the answer is \\({ans}\\).",
                  "I'm confident the answer is \\({ans}\\).", "So, final answer: \\({ans}\\)."),
                 ("所以答案应该是 \\({ans}\\)。", "因此，答案是 \\({ans}\\)。", "我确定答案是 \\({ans}\\)。", "所以最终答案：\\({ans}\\)。"))


_ZH_LEADS = ("所以", "因此", "于是", "那么", "然后", "再", "接着", "即", "则", "故", "由", "两", "也", "同", "先",
             "换", "从", "用", "这", "共", "首", "设", "把", "第", "展开")


def _decap(s: str) -> str:
    head = s.split(" ", 1)[0]
    return s[0].lower() + s[1:] if head in _DECAP else s


def _join_steps(rng: random.Random, steps: Sequence[str], zh: int) -> str:
    con = _CONNECT[zh]
    out = []
    for s in steps:
        c = con[int(rng.random() * len(con))]
        if not c:
            out.append(s)
        elif zh:
            out.append(s if s.startswith(_ZH_LEADS) else c + s)
        else:
            out.append(c + _decap(s))
    return " ".join(out) if not zh else "".join(out)


def _verify_variants(op: tuple[str, int, int], zh: int, times: str) -> list[str]:
    """Every by-hand re-check we know for one integer operation (all of them correct)."""
    kind, a, b = op
    out: list[str] = []
    if kind == "*":
        p = a * b
        x, y = (a, b) if a <= b else (b, a)  # y is the larger factor
        if y < 10:
            return [f"再核对 {a} × {b}：{b} × {a} = {p}，两种顺序结果一样，是 {p}。" if zh else
                    f"Let me double-check {a} {times} {b}. Reversing the order, {b} {times} {a} = {p}. Same thing, {p}."]
        t, o = divmod(y, 10)
        if o == 0:
            out.append(f"{x} × {y} 就是 {x} × {t} = {x * t} 后面补一个 0，得 {p}。" if zh else
                       f"{x} {times} {y} is just {x} {times} {t} = {x * t} with a zero appended: {p}.")
        else:
            up = (t + 1) * 10
            if zh:
                out.append(f"验算一下 {x} × {y}：把 {y} 拆成 {t * 10} + {o}，{x} × {t * 10} = {x * t * 10}，{x} × {o} = {x * o}，相加得 {x * t * 10} + {x * o} = {p}。")
                out.append(f"换个算法核对 {x} × {y}：{x} × {up} = {x * up}，再减去 {x} × {up - y} = {x * (up - y)}，得 {x * up} - {x * (up - y)} = {p}。对。")
                out.append(f"按位相乘检查 {y} × {x}：{t} 个十乘 {x} 得 {10 * t * x}，{o} 乘 {x} 得 {o * x}，合计 {p}。")
            else:
                out.append(f"Let me double-check {x} {times} {y}. Split {y} as {t * 10} + {o}: {x} {times} {t * 10} = {x * t * 10}, and {x} {times} {o} = {x * o}, so the total is {x * t * 10} + {x * o} = {p}.")
                out.append(f"Another way to check {x} {times} {y}: {x} {times} {up} = {x * up}, minus {x} {times} {up - y} = {x * (up - y)}, gives {x * up} - {x * (up - y)} = {p}. Yes.")
                out.append(f"Column by column: {y} {times} {x} is {t} tens times {x}, that's {10 * t * x}, plus {o} {times} {x} = {o * x}, total {p}.")
        if x % 2 == 0 and x > 2:
            out.append(f"用折半加倍法：{x} × {y} = {x // 2} × {2 * y} = {p}。结果一致。" if zh else
                       f"Halving and doubling: {x} {times} {y} = {x // 2} {times} {2 * y} = {p}. Consistent.")
        if x >= 10:
            tx, ox = divmod(x, 10)
            if ox:
                out.append(f"再拆另一个因数：{x} = {tx * 10} + {ox}，{tx * 10} × {y} = {tx * 10 * y}，{ox} × {y} = {ox * y}，合计 {p}。" if zh else
                           f"Splitting the other factor instead: {x} = {tx * 10} + {ox}, so {tx * 10} {times} {y} = {tx * 10 * y} and {ox} {times} {y} = {ox * y}, together {p}.")
            ra, rb = round(a, -1) or 10, round(b, -1) or 10
            if (ra, rb) != (a, b):
                out.append(f"粗略估算：{a} 约为 {ra}，{b} 约为 {rb}，乘积大约 {ra * rb}，而精确值 {p} 与之接近，数量级没问题。" if zh else
                           f"Rough estimate: {a} is about {ra} and {b} is about {rb}, so the product should be near {ra * rb}; the exact value {p} is close to that, so the magnitude is fine.")
        out.append(f"顺便想一下：如果 {a} 变成 {a + 1}，乘积就是 {a + 1} × {b} = {(a + 1) * b}，比 {p} 多 {b}，正好多一份 {b}。所以 {p} 是对得上的。" if zh else
                   f"As a side check: if {a} were {a + 1}, the product would be {a + 1} {times} {b} = {(a + 1) * b}, which is {b} more than {p}, exactly one more group of {b}. So {p} fits.")
        return out
    if kind == "+":
        s = a + b
        t, o = divmod(b, 10)
        if zh:
            if t and o:
                out.append(f"再加一遍：{a} + {t * 10} = {a + t * 10}，再加 {o} 得 {s}。")
            out.append(f"交换顺序再加：{b} + {a} = {s}，和刚才一样。")
            out.append(f"如果把 {b} 换成 {b + 10}，和就是 {s + 10}；减去 10 正好回到 {s}，说明加法没问题。")
        else:
            if t and o:
                out.append(f"Adding again: {a} + {t * 10} = {a + t * 10}, then plus {o} is {s}.")
            out.append(f"Adding in the other order: {b} + {a} = {s}, same as before.")
            out.append(f"If {b} were {b + 10}, the sum would be {s + 10}; taking the 10 back off gives {s}, so the addition holds.")
        r = (a // 10 + 1) * 10
        if b >= r - a > 0:
            out.append(f"凑整验证：{a} 再加 {r - a} 是 {r}，{b} 减去 {r - a} 是 {b - (r - a)}，{r} + {b - (r - a)} = {s}。" if zh else
                       f"Compensating: {a} needs {r - a} more to reach {r}; taking {r - a} from {b} leaves {b - (r - a)}, and {r} + {b - (r - a)} = {s}.")
        return out
    if kind == "-":
        d = a - b
        out.append(f"检查减法：{b} + {d} = {a}，所以 {a} - {b} = {d} 没错。" if zh else
                   f"Checking the subtraction by adding back: {b} + {d} = {a}, so {a} - {b} = {d} is right.")
        r = (b // 10 + 1) * 10
        if a >= r:
            out.append(f"从 {b} 往上数：先到 {r} 要 {r - b}，再到 {a} 要 {a - r}，一共 {d}。" if zh else
                       f"Counting up from {b}: {r - b} gets to {r}, then {a - r} more reaches {a}, so {d} in all.")
        k = 10 - b % 10 if b % 10 else 10
        out.append(f"两个数同时加 {k}，差不变：{a + k} - {b + k} = {d}。" if zh else
                   f"Shifting both numbers up by {k} keeps the difference: {a + k} - {b + k} = {d}.")
        return out
    q, r = divmod(a, b)
    out.append((f"验算除法：{b} × {q} = {b * q}" + ("，正好整除。" if r == 0 else f"，余 {r}。")) if zh else
               (f"Checking the division: {b} {times} {q} = {b * q}" + (", so it divides exactly." if r == 0 else f", remainder {r}.")))
    if q >= 20:
        big = (q // 10) * 10
        rest = a - b * big
        out.append(f"用长除法核对 {a} ÷ {b}：{b} × {big} = {b * big}，剩下 {rest}；{rest} ÷ {b} = {rest // b}" + (f" 余 {rest % b}" if rest % b else "") + f"，所以商是 {q}。" if zh else
                   f"Long division for {a} / {b}: {b} {times} {big} = {b * big}, leaving {rest}; {rest} / {b} = {rest // b}" + (f" remainder {rest % b}" if rest % b else "") + f", so the quotient is {q}.")
    out.append((f"反过来想：{q} 个 {b} 是 {q * b}" + ("，正好是被除数。" if r == 0 else f"，再加余数 {r} 就是 {a}。")) if zh else
               (f"Thinking of it backwards: {q} groups of {b} make {q * b}" + (", the full amount." if r == 0 else f", and the remainder {r} brings it to {a}.")))
    return out


def _fact_variants(n: int, zh: int) -> list[str]:
    """True remarks about an integer that shows up in the work (factorization, digit sum ...)."""
    out = []
    if n <= 10 ** 7:
        f = _factor_tex(n).replace("\\cdot", "·").replace("^{", "^").replace("}", "")
        if f == str(n):
            out.append(f"{n} 是质数，没有更小的因数。" if zh else f"{n} is prime, so it has no smaller factors.")
        else:
            out.append(f"分解一下 {n} = {f}，后面如果需要约分会用到。" if zh else f"Factoring {n} = {f}, in case I need to simplify later.")
    ds = sum(map(int, str(n)))
    if ds % 3 == 0:
        out.append(f"{n} 的各位数字之和是 {ds}，能被 3 整除，所以 {n} 也是 3 的倍数。" if zh else
                   f"The digit sum of {n} is {ds}, which is divisible by 3, so {n} is a multiple of 3.")
    else:
        out.append(f"{n} 的各位数字之和是 {ds}，不能被 3 整除，所以 {n} 不是 3 的倍数。" if zh else
                   f"The digit sum of {n} is {ds}, not divisible by 3, so {n} is not a multiple of 3.")
    r = math.isqrt(n)
    if r * r == n:
        out.append(f"注意 {n} 恰好是 {r} 的平方。" if zh else f"Interesting, {n} is exactly {r} squared.")
    else:
        out.append(f"{n} 在 {r}^2 = {r * r} 和 {r + 1}^2 = {(r + 1) ** 2} 之间，不是完全平方数。" if zh else
                   f"{n} lies between {r}^2 = {r * r} and {r + 1}^2 = {(r + 1) ** 2}, so it's not a perfect square.")
    if n % 2 == 0:
        out.append(f"{n} 是偶数，一半是 {n // 2}。" if zh else f"{n} is even; half of it is {n // 2}.")
    return out


def _usable(op: tuple[str, int, int]) -> bool:
    kind, a, b = op
    if a < 0 or b < 0:
        return False
    if kind == "*":
        return a >= 2 and b >= 2
    if kind == "-":
        return a > b
    if kind == "/":
        return b >= 2 and a >= b
    return a > 0 and b > 0


_STEPS = (1, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43)
_AGAIN = (("Let me verify that once more. ", "Double-checking again: ", "One more time, to be sure: ", "Re-checking: "),
          ("再确认一次：", "保险起见再核对：", "重复检查一下：", "再看一遍："))


def _thinking(rng: random.Random, pb: _Prob, zh: int, budget: int) -> str:
    """The text between <think> and </think>; grows past the core steps until ``budget`` chars.

    The extra blocks are re-checks of the actual computations (each one correct), re-reads
    of the question, alternative methods and hesitations, as in real long reasoning traces.
    """
    target = pb.target
    parts = [_pick(rng, _OPENERS[zh]).format(target=target)]
    if budget > 0:
        parts.append(_pick(rng, _RESTATE[zh]) + pb.problem)
    parts.append(_join_steps(rng, pb.steps, zh))
    if budget <= 0:  # small scale: the core derivation and one check
        if pb.checks and rng.random() < 0.6:
            parts.append(_pick(rng, _CHECK_INTRO[zh]) + ("" if zh else " ") + pb.checks[0])
        parts.append(_pick(rng, _ANSWER_THINK[zh]).format(ans=pb.answer))
        return "\n\n".join(parts)
    rnd = rng.random
    times = "*" if rnd() < 0.6 else "×"
    sp = "" if zh else " "
    doubt, ok_ = _DOUBT[zh], _OK[zh]
    ops = [op for op in pb.ops if _usable(op)][:14]
    pool: list[str] = []
    for op in ops:
        pool += _verify_variants(op, zh, times)
    nums = sorted({v for op in ops for v in (op[1], op[2]) if v >= 4})[:10]
    for v in nums:
        pool += _fact_variants(v, zh)
    for c in pb.checks:
        pool.append(_pick(rng, _CHECK_INTRO[zh]) + sp + c + sp + _pick(rng, ok_))
    for a in pb.alt:
        pool.append(_pick(rng, _ALT_INTRO[zh]) + sp + a)
    for r in _REREAD[zh]:
        if rnd() < 0.6:
            pool.append(r.format(target=target, problem=pb.problem))
    for r in _REDO[zh][:2 + int(rnd() * 2)]:
        pool.append(r + sp + _join_steps(rng, pb.steps, zh))
    for d in doubt:
        if rnd() < 0.5:
            pool.append(d + sp + _pick(rng, ok_))
    size = sum(map(len, parts))
    again = _AGAIN[zh]
    rounds = 0
    n_pool = len(pool)
    while size < budget:
        # visit the pool in a random order: a random start and a step coprime with its size
        # (one permutation per pass, two RNG calls instead of a full shuffle)
        start = int(rnd() * n_pool)
        step = _STEPS[int(rnd() * len(_STEPS))]
        while math.gcd(step, n_pool) != 1:
            step += 1
        for i in range(n_pool):
            block = pool[(start + i * step) % n_pool]
            if rounds:  # second pass over the same checks: say so
                block = again[int(rnd() * len(again))] + block
            elif rnd() < 0.15:
                block = doubt[int(rnd() * len(doubt))] + sp + block
            parts.append(block)
            size += len(block) + 2
            if size >= budget:
                break
        rounds += 1
    parts.append(_pick(rng, _ANSWER_THINK[zh]).format(ans=pb.answer))
    return "\n\n".join(parts)


_FINAL_INTRO = (("To find {target}, we proceed step by step.", "We solve the problem step by step.",
                 "Here is a clean solution.", "**Solution.**", "Let's organize the solution."),
                ("解题过程如下：", "**解答**", "下面一步一步求{target}。", "完整的解题步骤如下。", "整理一下解题过程："))
_FINAL_END = (("Therefore, the answer is", "Thus, the final answer is", "The answer is therefore", "Hence the answer is",
               "So {target} is"),
              ("因此，答案是", "所以最终答案为", "综上，答案为", "故所求为"))


def _final(rng: random.Random, pb: _Prob, zh: int, full: bool) -> str:
    parts = [_pick(rng, _FINAL_INTRO[zh]).format(target=pb.target)]
    style = rng.random()
    if style < 0.45:
        parts.append("\n".join(f"{i}. {s}" for i, s in enumerate(pb.steps, 1)))
    elif style < 0.75:
        parts.append("\n".join((f"**第{i}步**：{s}" if zh else f"**Step {i}.** {s}") for i, s in enumerate(pb.steps, 1)))
    else:
        parts.append(("" if zh else " ").join(pb.steps))
    if full and pb.checks and rng.random() < 0.7:
        parts.append(("**验证**：" if zh else "**Verification.** ") + pb.checks[0])
    end = _pick(rng, _FINAL_END[zh]).format(target=pb.target)
    form = rng.random()
    if form < 0.6:
        parts.append(f"{end}\n\\[\n\\boxed{{{pb.answer}}}\n\\]")
    elif form < 0.85:
        parts.append(f"{end} \\(\\boxed{{{pb.answer}}}\\)" + ("。" if zh else "."))
    else:
        parts.append(f"{end} $\\boxed{{{pb.answer}}}$" + ("。" if zh else "."))
    return "\n\n".join(parts)


_PTYPES = ("has_answer_extracted", "no_answer_extracted", "converted_proof")
_PTYPE_CUM = _cumulative((0.58, 0.32, 0.10))
_PSOURCES = ("aops_c6_high_school_olympiads", "aops_c4_high_school_math", "aops_c7_college_math",
             "aops_c5_contests_amp_programs")
_PSOURCE_CUM = _cumulative((0.40, 0.27, 0.23, 0.10))
_MODELS = ("DeepSeek-R1", "QwQ-32B")


def synth_reasoning(n: int, *, seed: int = 3407, scale: str = "full") -> list[dict]:
    """``n`` rows in the schema of ``unsloth/OpenMathReasoning-mini`` (split ``cot``).

    Eight string columns in the Hub order (``REASONING_COLUMNS``). ``generated_solution`` is
    ``"<think>\\n...\\n</think>\\n\\n"`` followed by a written solution that ends with the
    answer in ``\\boxed{...}``, and ``expected_answer`` is exactly what is boxed. About half
    of the rows are in Chinese. The same ``seed`` and ``scale`` always give the same rows, and
    a shorter call returns a prefix of a longer one. ``scale="full"`` gives the lengths of the
    real set (median ~3,300 tokens); ``scale="small"`` gives short rows (~170-550 tokens).

    Introduced in 03_dataset_cleaning.
    """
    _check_args(n, scale)
    with _gc_paused():
        return _reasoning_rows(n, seed, scale == "full")


def _reasoning_rows(n: int, seed: int, full: bool) -> list[dict]:
    rng = random.Random(f"qwen3lab/openmath/{'full' if full else 'small'}/{seed}")
    rows: list[dict] = []
    for _ in range(n):
        zh = 1 if rng.random() < 0.5 else 0
        pb = _pick(rng, _FAMILIES)(rng, zh)
        final = _final(rng, pb, zh, full)
        if full:
            tokens = _lognormal_int(rng, 3300, 0.52, 700, 13500)
            chars = min(int(tokens * _CPT_MATH[zh]), _MAX_MATH_CHARS[zh])
            budget = max(1, chars - len(final) - len(pb.problem))
        else:
            budget = 0
        think = _thinking(rng, pb, zh, budget)
        ptype = _weighted(rng, _PTYPES, _PTYPE_CUM)
        rows.append({
            "expected_answer": pb.answer,
            "problem_type": ptype,
            "problem_source": _weighted(rng, _PSOURCES, _PSOURCE_CUM),
            "generation_model": _MODELS[0] if rng.random() < 0.7 else _MODELS[1],
            "pass_rate_72b_tir": str(_ri(rng, 0, 32) / 32) if ptype == "has_answer_extracted" else "n/a",
            "problem": pb.problem,
            "generated_solution": f"<think>\n{think}\n</think>\n\n{final}",
            "inference_mode": "cot",
        })
    return rows


# -- chat content --------------------------------------------------------------------------
#
# Concepts: (domain, English, Chinese); each language is
# (title, definition, key points, example, analogy, common misconception).

_CONCEPTS = (
    ("science",
     ("photosynthesis",
      "Photosynthesis is the process by which plants, algae and some bacteria turn light energy into chemical energy stored in sugar.",
      ("It takes in carbon dioxide and water and releases oxygen as a by-product.",
       "It happens mainly in the chloroplasts, which contain the green pigment chlorophyll.",
       "The light-dependent reactions capture energy; the Calvin cycle uses that energy to build glucose.",
       "Almost every food chain on Earth starts with energy captured this way."),
      "A sunflower in a field uses sunlight, water drawn up through its roots and carbon dioxide from the air to make the sugars that fuel its growth.",
      "Think of a leaf as a solar-powered kitchen: sunlight is the stove, water and carbon dioxide are the ingredients, and sugar is the meal.",
      "Plants do not get their mass mainly from the soil; most of it comes from carbon dioxide in the air."),
     ("光合作用",
      "光合作用是植物、藻类和某些细菌利用光能，把二氧化碳和水转化为储存化学能的糖类的过程。",
      ("它吸收二氧化碳和水，并释放出氧气。", "它主要发生在含有叶绿素的叶绿体中。",
       "光反应负责捕获能量，卡尔文循环利用这些能量合成葡萄糖。", "地球上几乎所有食物链的能量都来自光合作用。"),
      "田里的向日葵用阳光、根部吸收的水和空气中的二氧化碳制造糖分，为自己的生长提供能量。",
      "可以把叶片想象成一个用太阳能的厨房：阳光是炉火，水和二氧化碳是食材，糖就是做好的饭菜。",
      "植物的质量并不主要来自土壤，而是大部分来自空气中的二氧化碳。")),
    ("finance",
     ("inflation",
      "Inflation is the general rise in prices over time, which means each unit of money buys a little less than before.",
      ("It is usually measured with a price index such as the consumer price index (CPI).",
       "Moderate, stable inflation is normal in a growing economy; central banks often target about 2% a year.",
       "High inflation erodes savings and makes planning difficult for households and firms.",
       "Central banks fight inflation mainly by raising interest rates, which cools borrowing and spending."),
      "If a basket of groceries costs 100 this year and 104 next year, prices rose by 4%, so the same money buys less food.",
      "Inflation is like a slow leak in a tire: you barely notice it day to day, but over years the loss of air pressure is obvious.",
      "Inflation does not mean every price goes up by the same amount; some prices rise a lot, others fall."),
     ("通货膨胀",
      "通货膨胀是指物价水平随时间普遍上涨，同样多的钱能买到的东西变少了。",
      ("通常用居民消费价格指数（CPI）等价格指数来衡量。", "温和而稳定的通胀在经济增长中很常见，许多央行把目标定在每年 2% 左右。",
       "高通胀会侵蚀储蓄，让家庭和企业难以做计划。", "央行主要通过提高利率来抑制通胀，从而减少借贷和消费。"),
      "如果一篮子食品今年卖 100 元、明年卖 104 元，物价就上涨了 4%，同样的钱买到的食物变少了。",
      "通胀就像轮胎慢慢漏气：每天几乎察觉不到，但几年下来气压的损失就很明显。",
      "通胀并不意味着所有商品都按相同幅度涨价，有的涨得多，有的甚至会降价。")),
    ("tech",
     ("recursion",
      "Recursion is a programming technique in which a function solves a problem by calling itself on smaller versions of the same problem.",
      ("Every recursive function needs a base case that stops the calls.",
       "Each call should move closer to the base case, or the recursion never ends.",
       "The call stack keeps track of the pending calls, so very deep recursion can overflow it.",
       "Many recursive solutions can be rewritten as loops, sometimes with an explicit stack."),
      "Computing a factorial: factorial(5) = 5 * factorial(4), and so on down to factorial(1) = 1, the base case.",
      "It is like a set of Russian nesting dolls: you open one doll to find a smaller one inside, until you reach the smallest doll that does not open.",
      "Recursion is not automatically slower or worse than a loop; with memoization or tail calls it can be just as efficient."),
     ("递归",
      "递归是一种编程技巧：函数通过调用自身来解决同一问题的更小规模版本。",
      ("每个递归函数都需要一个终止条件（基本情况）。", "每次调用都应更接近终止条件，否则递归不会结束。",
       "调用栈会记录尚未完成的调用，递归过深可能导致栈溢出。", "很多递归解法可以改写成循环，有时需要显式地使用栈。"),
      "计算阶乘：factorial(5) = 5 * factorial(4)，一直递推到 factorial(1) = 1 这个基本情况。",
      "递归就像俄罗斯套娃：打开一个娃娃，里面还有一个更小的，直到最小的那个再也打不开。",
      "递归并不一定比循环慢；配合记忆化或尾调用优化，它同样可以很高效。")),
    ("tech",
     ("the difference between TCP and UDP",
      "TCP and UDP are the two main transport protocols of the internet: TCP offers reliable, ordered delivery, while UDP sends independent packets with minimal overhead.",
      ("TCP sets up a connection with a handshake before any data is sent.",
       "TCP retransmits lost packets and delivers data in order; UDP does neither.",
       "UDP has lower latency, which suits video calls, online games and DNS lookups.",
       "Applications built on UDP handle loss themselves if they care about it."),
      "Loading a web page uses TCP so that no part of the page is missing, while a live video call uses UDP because a late frame is useless anyway.",
      "TCP is like registered mail with delivery confirmation; UDP is like dropping postcards in a mailbox and hoping most arrive.",
      "UDP is not 'unreliable' in the sense of being broken; it simply leaves reliability to the application."),
     ("TCP 和 UDP 的区别",
      "TCP 和 UDP 是互联网上两种主要的传输层协议：TCP 提供可靠、有序的传输，UDP 则以极小的开销发送相互独立的数据包。",
      ("TCP 在发送数据前要通过握手建立连接。", "TCP 会重传丢失的数据包并保证顺序，UDP 两者都不做。",
       "UDP 延迟更低，适合视频通话、在线游戏和 DNS 查询。", "基于 UDP 的应用如果在意丢包，需要自己处理。"),
      "打开网页使用 TCP，保证页面内容完整；视频通话使用 UDP，因为迟到的画面本来也没用了。",
      "TCP 像带回执的挂号信，UDP 像把明信片投进邮筒，指望大部分能寄到。",
      "UDP 的“不可靠”并不是说它有缺陷，而是把可靠性交给应用自己处理。")),
    ("tech",
     ("gradient descent",
      "Gradient descent is an optimization method that repeatedly nudges a model's parameters in the direction that lowers the loss the fastest.",
      ("The gradient points uphill, so the update subtracts it, scaled by a learning rate.",
       "A learning rate that is too large can overshoot and diverge; one that is too small makes training slow.",
       "Stochastic gradient descent estimates the gradient from a small batch of data at each step.",
       "Variants such as momentum and Adam adapt the step to speed up and stabilize training."),
      "To fit a line to data, start with any slope and intercept, compute how the squared error changes with each, and adjust both a little in the direction that reduces the error.",
      "It is like walking down a foggy hill: you cannot see the valley, but you can feel which way the ground slopes under your feet and step that way.",
      "Gradient descent does not guarantee the global minimum; on non-convex losses it finds a good local solution."),
     ("梯度下降",
      "梯度下降是一种优化方法：沿着让损失下降最快的方向，反复微调模型参数。",
      ("梯度指向上坡方向，所以更新时减去梯度，并乘以学习率。", "学习率太大会越过最低点甚至发散，太小则训练很慢。",
       "随机梯度下降在每一步只用一小批数据来估计梯度。", "动量法、Adam 等变体会自适应地调整步长，使训练更快更稳。"),
      "用直线拟合数据时，先随便设定斜率和截距，计算平方误差随它们如何变化，再朝误差减小的方向各调一点。",
      "就像在大雾中下山：看不到山谷，但能感觉脚下哪边更低，就往那边走一步。",
      "梯度下降不保证找到全局最优；对于非凸的损失函数，它找到的是一个不错的局部解。")),
    ("tech",
     ("overfitting",
      "Overfitting happens when a model learns the training data so closely, noise included, that it performs poorly on new data.",
      ("A telltale sign is low training error combined with high validation error.",
       "It is more likely with very flexible models and small data sets.",
       "Regularization, dropout, early stopping and more data all help.",
       "Always judge a model on data it has not seen during training."),
      "A model that memorizes last year's exam answers scores perfectly on that exam but fails this year's questions.",
      "It is like a student who memorizes the answer key instead of understanding the material.",
      "More training is not always better: past a point, extra epochs can make overfitting worse."),
     ("过拟合",
      "过拟合是指模型把训练数据（连同其中的噪声）学得太细，以至于在新数据上表现很差。",
      ("典型迹象是训练误差很低而验证误差很高。", "模型越灵活、数据越少，越容易过拟合。",
       "正则化、Dropout、提前停止和增加数据都有帮助。", "评估模型一定要用训练时没见过的数据。"),
      "一个背下了去年考试答案的模型，在去年的卷子上得满分，却做不出今年的新题。",
      "就像一个只背答案、不理解知识的学生。",
      "训练不是越久越好：超过某个点后，多训练几个轮次反而会加重过拟合。")),
    ("finance",
     ("compound interest",
      "Compound interest is interest calculated on both the original amount and the interest already earned, so growth accelerates over time.",
      ("The formula is A = P(1 + r/n)^(nt) for principal P, rate r, n compounding periods per year and t years.",
       "The more often interest compounds, the slightly higher the final amount.",
       "Starting early matters more than contributing a lot late, because time drives the growth.",
       "The same mechanism works against you on debts such as credit card balances."),
      "1,000 at 5% a year becomes 1,050 after one year and 1,102.50 after two, because the second year's interest is earned on 1,050.",
      "It is like a snowball rolling downhill: the bigger it gets, the more snow it picks up on each turn.",
      "Compound growth is not linear; doubling the time more than doubles the gain."),
     ("复利",
      "复利是指利息不仅按本金计算，也按已经获得的利息计算，因此增长会越来越快。",
      ("公式为 A = P(1 + r/n)^(nt)，其中 P 为本金，r 为年利率，n 为每年计息次数，t 为年数。", "计息越频繁，最终金额略高一些。",
       "越早开始越重要，因为时间是增长的主要动力。", "同样的机制也会作用在债务上，比如信用卡欠款。"),
      "1000 元按年利率 5% 计算，一年后变成 1050 元，两年后变成 1102.5 元，因为第二年的利息按 1050 元计算。",
      "复利就像从山坡上滚下的雪球：越滚越大，每一圈粘上的雪也越多。",
      "复利增长不是线性的；时间翻倍，收益会多于翻倍。")),
    ("tech",
     ("DNS",
      "DNS, the Domain Name System, is the internet's phone book: it translates human-friendly names like example.com into the IP addresses computers use.",
      ("A lookup usually goes from a resolver to root servers, then to top-level-domain servers, then to the domain's authoritative server.",
       "Answers are cached for a time set by the record's TTL, which makes repeat lookups fast.",
       "Common record types include A (IPv4 address), AAAA (IPv6), CNAME (alias) and MX (mail server).",
       "Misconfigured or slow DNS can make a working website look like it is down."),
      "When you type a shop's web address, your computer asks a DNS resolver for its IP address before it can even start loading the page.",
      "It works like a contacts app: you tap a name, and the phone looks up the number for you.",
      "Changing a DNS record does not take effect everywhere instantly, because old answers stay cached until they expire."),
     ("DNS（域名系统）",
      "DNS 即域名系统，相当于互联网的电话簿：它把 example.com 这样便于记忆的域名翻译成计算机使用的 IP 地址。",
      ("一次查询通常从解析器出发，依次询问根服务器、顶级域服务器和该域名的权威服务器。", "查询结果会按照记录的 TTL 缓存一段时间，所以重复查询很快。",
       "常见的记录类型有 A（IPv4 地址）、AAAA（IPv6 地址）、CNAME（别名）和 MX（邮件服务器）。", "DNS 配置错误或响应太慢，会让一个正常的网站看起来像是宕机了。"),
      "你在浏览器里输入网店地址时，电脑要先向 DNS 解析器查到它的 IP 地址，才能开始加载页面。",
      "它就像手机通讯录：你点一个名字，手机替你查出号码。",
      "修改 DNS 记录不会立刻在所有地方生效，因为旧的结果在过期前仍被缓存。")),
    ("finance",
     ("supply and demand",
      "Supply and demand is the model of how prices form in a market: the price tends to settle where the quantity buyers want equals the quantity sellers offer.",
      ("Demand usually falls as price rises; supply usually rises as price rises.",
       "The crossing point of the two curves is called the equilibrium.",
       "A shift in either curve, from tastes, costs or incomes, moves the equilibrium price and quantity.",
       "Price ceilings and floors can create shortages or surpluses."),
      "When a cold snap hits, demand for heaters jumps while supply stays the same for a while, so heater prices rise.",
      "It is like a seesaw balancing buyers on one side and sellers on the other, with price as the pivot that moves until the two sides level out.",
      "A higher price does not always mean higher demand caused it; it may be that supply fell."),
     ("供给与需求",
      "供求模型描述市场价格如何形成：价格倾向于停在买方想买的数量等于卖方愿卖的数量的位置。",
      ("一般来说，价格越高需求越少，价格越高供给越多。", "两条曲线的交点称为均衡点。",
       "偏好、成本或收入的变化会让曲线移动，从而改变均衡价格和数量。", "价格上限和价格下限可能导致短缺或过剩。"),
      "寒潮来袭时，取暖器的需求猛增，而供给短期内不变，于是取暖器涨价。",
      "它像一个跷跷板，一边是买方，一边是卖方，价格就是支点，一直移动到两边平衡。",
      "价格上涨不一定是需求增加造成的，也可能是供给减少了。")),
    ("science",
     ("plate tectonics",
      "Plate tectonics is the theory that Earth's outer shell is broken into large plates that move slowly over the hotter, softer layer beneath.",
      ("Plates move a few centimeters a year, about as fast as fingernails grow.",
       "Where plates pull apart, new crust forms, as along mid-ocean ridges.",
       "Where they collide, mountains rise or one plate sinks beneath another, causing deep trenches.",
       "Most earthquakes and volcanoes occur near plate boundaries."),
      "The Himalayas are still rising because the Indian plate keeps pushing into the Eurasian plate.",
      "Picture cracked ice on a pond, with slabs drifting and bumping into each other on the water below.",
      "Continents do not plow through the ocean floor; they ride along as parts of the plates."),
     ("板块构造",
      "板块构造理论认为，地球的外壳被分割成许多巨大的板块，它们在下面更热、更软的地层上缓慢移动。",
      ("板块每年移动几厘米，大约和指甲生长的速度差不多。", "板块分离的地方会形成新的地壳，例如大洋中脊。",
       "板块碰撞的地方会隆起山脉，或者一个板块俯冲到另一个下面，形成海沟。", "大多数地震和火山都发生在板块边界附近。"),
      "喜马拉雅山至今仍在升高，因为印度板块还在向欧亚板块挤压。",
      "想象池塘里裂开的冰面，冰块在水面上漂移、相互碰撞。",
      "大陆并不是在洋底上“犁”着前进，而是作为板块的一部分一起移动。")),
    ("finance",
     ("opportunity cost",
      "Opportunity cost is the value of the best alternative you give up when you make a choice.",
      ("Every choice has one, even when no money changes hands.",
       "It includes time, not just money.",
       "Good decisions compare options by their opportunity costs, not by their sticker prices alone.",
       "Sunk costs, money already spent, should not enter the comparison."),
      "If you spend Saturday at a paid workshop instead of a shift that pays 120, the workshop's real cost includes the 120 you did not earn.",
      "It is like choosing one path at a fork in the road: the cost is the scenery on the path you did not take.",
      "Opportunity cost is not the sum of all alternatives, only the single best one you gave up."),
     ("机会成本",
      "机会成本是指做出一个选择时，所放弃的最佳替代方案的价值。",
      ("每个选择都有机会成本，即使没有花钱。", "它不只包括金钱，也包括时间。",
       "好的决策要比较各选项的机会成本，而不只看标价。", "沉没成本，也就是已经花掉的钱，不应计入比较。"),
      "如果你周六去参加一个收费讲座，而不是去上一份能赚 120 元的班，那么讲座的真实成本还包括没赚到的 120 元。",
      "就像在岔路口只能选一条路：代价是另一条路上你看不到的风景。",
      "机会成本不是所有备选方案之和，而只是你放弃的那个最好的方案。")),
    ("tech",
     ("Big-O notation",
      "Big-O notation describes how the running time or memory of an algorithm grows as the input gets larger, ignoring constant factors.",
      ("O(1) means constant time, O(n) linear, O(n log n) typical of good sorting, O(n^2) quadratic.",
       "It describes an upper bound on growth, usually for the worst case.",
       "Constants and lower-order terms are dropped, so 3n + 7 is simply O(n).",
       "For small inputs a 'worse' algorithm can still be faster in practice."),
      "Searching an unsorted list checks each item, O(n); binary search on a sorted list halves the range each step, O(log n).",
      "It is like comparing how travel time grows with distance for walking versus flying, rather than timing one particular trip.",
      "Big-O is not the exact running time; two O(n) algorithms can differ a lot in speed."),
     ("大 O 记号",
      "大 O 记号用来描述算法的运行时间或内存随输入规模增大而增长的趋势，忽略常数因子。",
      ("O(1) 表示常数时间，O(n) 为线性，O(n log n) 是常见高效排序的复杂度，O(n^2) 为平方级。", "它描述的是增长的上界，通常针对最坏情况。",
       "常数和低阶项会被省略，所以 3n + 7 就记作 O(n)。", "输入很小时，“更差”的算法在实际中可能反而更快。"),
      "在无序列表中查找要逐个检查，是 O(n)；在有序列表上二分查找每步把范围减半，是 O(log n)。",
      "这就像比较步行和坐飞机的用时如何随距离增长，而不是给某一次具体行程计时。",
      "大 O 不是精确的运行时间；两个 O(n) 的算法实际速度可能相差很多。")),
    ("science",
     ("how vaccines work",
      "A vaccine trains the immune system to recognize a germ by showing it a harmless piece or version of that germ, so the body can respond quickly to the real thing.",
      ("The immune system makes antibodies and memory cells in response.",
       "Memory cells let the body react faster and more strongly on a later exposure.",
       "Some vaccines need boosters because protection fades over time.",
       "When enough people are immune, spread slows, which also protects those who cannot be vaccinated."),
      "A flu shot contains inactivated virus or viral proteins; if you later meet the live virus, your body already has a response ready.",
      "It is like a fire drill: practicing with no real fire makes everyone respond faster when a real alarm goes off.",
      "A vaccine does not give you the disease it protects against."),
     ("疫苗的工作原理",
      "疫苗通过向免疫系统展示病原体的无害片段或减毒形式，训练身体识别它，从而在遇到真正的病原体时迅速反应。",
      ("免疫系统会因此产生抗体和记忆细胞。", "记忆细胞让身体在之后再次接触时反应更快、更强。",
       "有些疫苗需要加强针，因为保护力会随时间减弱。", "足够多的人获得免疫后，传播会减慢，这也保护了无法接种的人。"),
      "流感疫苗含有灭活病毒或病毒蛋白；以后真的遇到活病毒时，身体已经准备好了应对方案。",
      "它就像消防演习：没有真火时先练习，真警报响起时大家反应更快。",
      "接种疫苗并不会让人得上它所预防的那种病。")),
    ("science",
     ("the water cycle",
      "The water cycle is the continuous movement of water between the oceans, the air and the land through evaporation, condensation, precipitation and runoff.",
      ("The sun's heat drives evaporation from oceans, lakes and plants.",
       "Water vapor cools as it rises and condenses into clouds.",
       "Precipitation returns water to the surface as rain, snow or hail.",
       "Water then flows back to the sea in rivers or soaks into the ground as groundwater."),
      "A puddle that disappears on a sunny afternoon has evaporated; that same water may fall as rain somewhere else days later.",
      "It works like a giant still: the sun heats, the air carries the vapor, and the cool sky condenses it back into liquid.",
      "The total amount of water on Earth stays roughly constant; the cycle moves it around rather than creating it."),
     ("水循环",
      "水循环是指水通过蒸发、凝结、降水和径流，在海洋、大气和陆地之间不断运动的过程。",
      ("太阳的热量驱动海洋、湖泊和植物中的水蒸发。", "水汽上升后冷却，凝结成云。",
       "降水以雨、雪或冰雹的形式把水送回地面。", "水再通过河流流回大海，或渗入地下成为地下水。"),
      "晴天下午消失的水坑是蒸发了，这些水几天后可能在别处变成雨落下。",
      "它像一台巨大的蒸馏器：太阳加热，空气运送水汽，寒冷的高空把水汽重新凝结成液体。",
      "地球上水的总量大致不变，水循环只是让水流动，而不是创造新的水。")),
    ("finance",
     ("diversification",
      "Diversification means spreading money across different investments so that a loss in one is cushioned by the others.",
      ("It reduces the risk specific to a single company or sector.",
       "It cannot remove market-wide risk that hits everything at once.",
       "Index funds are a simple way to hold many companies in one purchase.",
       "Owning many assets that move together is not real diversification."),
      "Instead of putting all savings into one tech stock, an investor might hold a broad stock fund, a bond fund and some cash.",
      "It is the investing version of not putting all your eggs in one basket.",
      "Diversification does not guarantee a profit or fully protect against losses."),
     ("分散投资",
      "分散投资是把资金分配到不同的投资上，这样一项投资的亏损可以被其他投资缓冲。",
      ("它降低了单一公司或行业特有的风险。", "它无法消除同时影响所有资产的市场整体风险。",
       "指数基金是一次买入许多公司的简单方式。", "持有许多同涨同跌的资产并不是真正的分散。"),
      "与其把全部积蓄投入一只科技股，不如同时持有股票基金、债券基金和一些现金。",
      "这就是投资版的“不要把鸡蛋放在同一个篮子里”。",
      "分散投资不能保证盈利，也不能完全避免亏损。")),
    ("finance",
     ("the price-to-earnings ratio",
      "The price-to-earnings (P/E) ratio divides a company's share price by its earnings per share, showing how much investors pay for each unit of profit.",
      ("A high P/E can signal expected growth, or simply an expensive stock.",
       "It is most useful when comparing companies in the same industry.",
       "Companies with losses have no meaningful P/E.",
       "Forward P/E uses forecast earnings instead of past earnings."),
      "A share priced at 60 with earnings of 3 per share has a P/E of 20, meaning investors pay 20 for every 1 of annual profit.",
      "It is like the price per square meter of a house: useful for comparison, but it says nothing about the neighborhood.",
      "A low P/E is not automatically a bargain; the market may expect profits to fall."),
     ("市盈率",
      "市盈率（P/E）是股价除以每股收益，表示投资者为每一元利润支付了多少钱。",
      ("市盈率高可能意味着市场预期增长，也可能只是股票太贵。", "它最适合在同一行业的公司之间比较。",
       "亏损的公司没有有意义的市盈率。", "预期市盈率使用的是预测盈利，而不是过去的盈利。"),
      "股价 60 元、每股收益 3 元的股票，市盈率为 20，即投资者为每年 1 元利润付出 20 元。",
      "它像房子的每平方米单价：便于比较，但说明不了周边环境。",
      "低市盈率不一定就是便宜货，市场可能预期利润会下滑。")),
    ("science",
     ("the greenhouse effect",
      "The greenhouse effect is the warming of Earth's surface because gases such as carbon dioxide and water vapor absorb heat radiated from the ground and send part of it back down.",
      ("Without any greenhouse effect, Earth's average temperature would be far below freezing.",
       "Sunlight passes through the atmosphere mostly as visible light, while Earth gives off infrared heat.",
       "Adding more greenhouse gases strengthens the effect and raises average temperatures.",
       "Methane traps more heat per molecule than carbon dioxide but stays in the air for a shorter time."),
      "A car parked in the sun gets hot inside because sunlight enters through the windows but the heat cannot escape easily.",
      "It is like a blanket: it does not make heat, it slows how fast your body heat escapes.",
      "The greenhouse effect itself is natural and necessary; the concern is how much human activity is strengthening it."),
     ("温室效应",
      "温室效应是指二氧化碳、水汽等气体吸收地面辐射出的热量，并把其中一部分送回地面，从而使地表变暖。",
      ("如果完全没有温室效应，地球的平均气温会远低于冰点。", "阳光主要以可见光的形式穿过大气，而地球向外散发的是红外热辐射。",
       "温室气体增多会增强这一效应，使平均气温升高。", "甲烷每个分子吸收的热量比二氧化碳多，但在大气中停留的时间较短。"),
      "停在太阳下的汽车车内很热，因为阳光能透过车窗进来，热量却不容易散出去。",
      "它就像一床被子：被子本身不产生热量，只是让体温散失得更慢。",
      "温室效应本身是自然而必要的，值得担心的是人类活动让它增强了多少。")),
    ("tech",
     ("version control with Git",
      "Git is a version control system that records snapshots of a project over time, so you can see history, undo mistakes and work in parallel on branches.",
      ("A commit is a saved snapshot with a message describing the change.",
       "Branches let you develop a feature without disturbing the main line of work.",
       "Merging combines branches; conflicts arise when the same lines were changed in both.",
       "Remote repositories such as those on a shared server let a team exchange commits."),
      "You create a branch called fix-login, commit your changes there, and merge it into main once the tests pass.",
      "It is like a save system in a video game, except you can also split into alternate timelines and later join them back together.",
      "Git is not a backup of your whole computer; it only tracks the files you add to the repository."),
     ("用 Git 做版本控制",
      "Git 是一个版本控制系统，它随时间记录项目的快照，让你可以查看历史、撤销错误，并在分支上并行开发。",
      ("一次提交（commit）就是附带说明信息的一个快照。", "分支让你开发新功能而不影响主线。",
       "合并会把分支结合起来；如果两边改了同样的行，就会产生冲突。", "远程仓库让团队成员之间交换提交。"),
      "你新建一个叫 fix-login 的分支，在上面提交修改，测试通过后再合并到 main。",
      "它像游戏里的存档系统，不同的是你还能分出平行时间线，之后再把它们合并。",
      "Git 不是整台电脑的备份，它只跟踪你加入仓库的文件。")),
    ("science",
     ("the Pythagorean theorem",
      "The Pythagorean theorem states that in a right triangle, the square of the hypotenuse equals the sum of the squares of the other two sides: a^2 + b^2 = c^2.",
      ("It only applies to right triangles.",
       "Whole-number solutions such as 3, 4, 5 are called Pythagorean triples.",
       "It gives the distance formula in coordinate geometry.",
       "Its converse also holds: if a^2 + b^2 = c^2, the triangle has a right angle."),
      "A ladder 5 m long with its foot 3 m from a wall reaches 4 m up the wall, because 3^2 + 4^2 = 5^2.",
      "Imagine squares built on each side of the triangle: the area of the big square on the hypotenuse exactly matches the two smaller squares combined.",
      "It does not say a + b = c; the sides themselves do not add up, only their squares do."),
     ("勾股定理",
      "勾股定理指出：在直角三角形中，斜边的平方等于两条直角边的平方和，即 a^2 + b^2 = c^2。",
      ("它只适用于直角三角形。", "像 3、4、5 这样的整数解称为勾股数。",
       "坐标几何中的距离公式就来自勾股定理。", "它的逆定理也成立：若 a^2 + b^2 = c^2，则三角形有一个直角。"),
      "一架 5 米长的梯子，底端离墙 3 米，顶端能够到墙上 4 米高处，因为 3^2 + 4^2 = 5^2。",
      "想象在三角形的每条边上各画一个正方形：斜边上大正方形的面积恰好等于另外两个正方形面积之和。",
      "它说的不是 a + b = c；边长本身不能相加，只有平方才满足这个关系。")),
    ("science",
     ("natural selection",
      "Natural selection is the process by which individuals with traits better suited to their environment tend to survive and reproduce more, so those traits become more common over generations.",
      ("It needs variation among individuals, inheritance of traits and differences in reproductive success.",
       "It acts on individuals, but its effects show up in populations over time.",
       "It is one of several mechanisms of evolution, alongside genetic drift and gene flow.",
       "Antibiotic resistance in bacteria is natural selection happening fast enough to watch."),
      "When an antibiotic kills most bacteria in an infection, the few resistant ones survive and multiply, so the next population is mostly resistant.",
      "It is like a sieve shaken by the environment: the traits that fit through are the ones passed on.",
      "Natural selection does not aim at a goal or produce perfect organisms; it only favors what works well enough now."),
     ("自然选择",
      "自然选择是指更适应环境的个体更容易存活和繁殖，因此这些性状在一代代中变得越来越普遍。",
      ("它需要个体之间存在差异、性状可以遗传，以及繁殖成功率有差别。", "它作用于个体，但效果体现在种群随时间的变化上。",
       "它是进化的机制之一，另外还有遗传漂变和基因流动。", "细菌的抗药性就是快到可以观察到的自然选择。"),
      "抗生素杀死感染中的大部分细菌后，少数耐药的细菌存活并繁殖，于是下一代细菌大多具有耐药性。",
      "它就像被环境摇动的筛子：能通过筛子的性状才会传下去。",
      "自然选择没有目标，也不会造出完美的生物，它只偏向当下足够好用的性状。")),
    ("tech",
     ("hash tables",
      "A hash table stores key-value pairs and uses a hash function to compute where each key lives, giving average constant-time lookups.",
      ("The hash function maps a key to an index in an underlying array.",
       "Two keys can land on the same index, a collision, which is handled by chaining or probing.",
       "Tables resize when they get too full to keep operations fast.",
       "Python's dict and set are hash tables under the hood."),
      "A phone book app can jump straight to a contact by name instead of scanning every entry, because the name's hash tells it where to look.",
      "It is like a coat check: you hand over your coat and get a numbered ticket, and the number tells the attendant exactly which hook to go to.",
      "Hash tables are not ordered by key; if you need sorted order you need a different structure or an extra sort."),
     ("哈希表",
      "哈希表存储键值对，并用哈希函数计算每个键的存放位置，平均查找时间是常数级。",
      ("哈希函数把键映射为底层数组中的一个下标。", "两个键可能映射到同一个位置，称为冲突，可以用链地址法或开放寻址法处理。",
       "表太满时会扩容，以保持操作的速度。", "Python 的 dict 和 set 底层就是哈希表。"),
      "通讯录应用可以根据名字直接找到联系人，而不用逐条扫描，因为名字的哈希值告诉了它去哪里找。",
      "它像衣帽间：你交出外套拿到一个号码牌，工作人员凭号码直接找到对应的挂钩。",
      "哈希表不按键排序；如果需要有序，就得换一种结构或额外排序。")),
    ("finance",
     ("exchange-traded funds (ETFs)",
      "An exchange-traded fund is a basket of investments, such as stocks or bonds, that trades on a stock exchange like a single share.",
      ("Many ETFs track an index, so their fees are usually low.",
       "They can be bought and sold throughout the trading day.",
       "One ETF can give exposure to hundreds of companies at once.",
       "Fees, tracking error and liquidity are worth checking before buying."),
      "Buying one share of an ETF that tracks a broad stock index gives you a small slice of every company in that index.",
      "It is like buying a fruit basket instead of picking each fruit separately.",
      "An ETF is not risk-free just because it is diversified; if the whole market falls, so does the fund."),
     ("交易所交易基金（ETF）",
      "ETF 是一篮子投资（如股票或债券），它像单只股票一样在交易所买卖。",
      ("很多 ETF 跟踪某个指数，所以费用通常较低。", "交易日内可以随时买卖。",
       "一只 ETF 就能同时投资几百家公司。", "买入前值得看看费率、跟踪误差和流动性。"),
      "买一份跟踪宽基指数的 ETF，就相当于持有了指数里每家公司的一小部分。",
      "它像买一个水果拼盘，而不是一个个挑水果。",
      "ETF 分散了风险，但并非没有风险；整个市场下跌时，基金也会跌。")),
    ("science",
     ("Newton's first law",
      "Newton's first law says that an object stays at rest, or keeps moving in a straight line at constant speed, unless a net force acts on it.",
      ("This tendency to resist changes in motion is called inertia.",
       "Mass is a measure of inertia: heavier objects are harder to speed up or stop.",
       "Friction and air resistance are why moving things on Earth usually slow down.",
       "The law holds in inertial reference frames, ones that are not accelerating."),
      "When a bus brakes suddenly, passengers lurch forward because their bodies keep moving until the seat or a handrail stops them.",
      "It is like a hockey puck on smooth ice: once pushed, it glides a long way because almost nothing is slowing it.",
      "Objects do not need a force to keep moving; they need a force to change how they move."),
     ("牛顿第一定律",
      "牛顿第一定律指出：物体在不受合外力作用时，保持静止或匀速直线运动状态。",
      ("物体保持原有运动状态的性质叫惯性。", "质量是惯性大小的量度：越重的物体越难加速或停下。",
       "地面上运动的物体通常会慢下来，是因为摩擦力和空气阻力。", "这一定律在惯性参考系（不加速的参考系）中成立。"),
      "公交车急刹车时，乘客会向前倾，因为身体还在继续向前运动，直到被座椅或扶手挡住。",
      "就像光滑冰面上的冰球：推一下就能滑很远，因为几乎没有东西让它减速。",
      "物体保持运动并不需要力，改变运动状态才需要力。")),
    ("tech",
     ("public-key encryption",
      "Public-key encryption uses a pair of keys: a public key that anyone can use to encrypt a message, and a private key that only the owner uses to decrypt it.",
      ("The two keys are mathematically linked, but the private key cannot feasibly be derived from the public one.",
       "The same idea supports digital signatures, which prove who sent a message.",
       "HTTPS uses it to agree on a shared key, then switches to faster symmetric encryption.",
       "Keeping the private key secret is what the whole system depends on."),
      "When you visit a bank's website, your browser uses the bank's public key to set up a secure connection that only the bank can read.",
      "It is like a mailbox with a slot: anyone can drop a letter in, but only the owner has the key to open it.",
      "Encryption protects data in transit; it does not protect a device that is already compromised."),
     ("公钥加密",
      "公钥加密使用一对密钥：任何人都可以用公钥加密消息，只有所有者能用私钥解密。",
      ("两把密钥在数学上相关联，但实际上无法从公钥推算出私钥。", "同样的思想也用于数字签名，用来证明消息是谁发的。",
       "HTTPS 先用它协商出一个共享密钥，再换用更快的对称加密。", "整个系统的安全取决于私钥是否保密。"),
      "访问银行网站时，浏览器用银行的公钥建立一个只有银行能读懂的安全连接。",
      "它像一个带投信口的信箱：谁都能把信投进去，但只有主人有钥匙打开。",
      "加密保护的是传输中的数据，无法保护一台已经被入侵的设备。")),
)

_EXPLAIN_Q = (
    ("What is {t}?", "Can you explain {t} in simple terms?", "How does {t} work?",
     "I keep hearing about {t}. What does it actually mean?", "Explain {t} to a high school student.",
     "Could you give me a clear explanation of {t}, with an example?", "What should I know about {t}?",
     "Briefly, what is {t} and why does it matter?"),
    ("什么是{t}？", "能用通俗的话解释一下{t}吗？", "{t}是怎么回事？", "我经常听到“{t}”这个说法，它到底是什么意思？",
     "请给高中生讲讲{t}。", "能清楚地解释一下{t}并举个例子吗？", "关于{t}，我应该了解些什么？", "简单说说{t}是什么，为什么重要？"),
)
_ASK_CONTEXT = (
    ("", "", "", "", "", "I'm studying for an exam. ", "Quick question. ", "My teacher mentioned this today. ", "I'm new to this topic. ",
     "For a presentation I'm preparing: ", "I've read a few articles but I'm still confused. ", "Hi! ", "Sorry if this is basic. ",
     "My friend and I were arguing about this. ", "I need to understand this for work. ", "I'm writing a blog post. "),
    ("", "", "", "", "", "我在准备考试。", "请教一个问题。", "今天老师提到了这个。", "我刚接触这个领域。", "我在准备一个演讲，",
     "看了几篇文章还是不太明白。", "你好！", "可能问题比较基础，", "我和朋友在争论这个问题。", "工作中需要了解这个。", "我在写一篇博客。"),
)
_CODE_CONTEXT = (
    ("", "", "", "I'm working on a small script. ", "This is for coding interview practice. ", "Beginner here. ",
     "I need this for a data-cleaning job. ", "Hi! ", "For a class assignment: ", "My current version is buggy, so let's start fresh. "),
    ("", "", "", "我在写一个小脚本。", "在准备编程面试。", "新手求助。", "数据清洗工作要用到。", "你好！", "课程作业需要：", "我自己写的版本有 bug，想重新写一个。"),
)
_EXPLAIN_HEAD = (
    (("**Key points**", "Here are the main ideas:", "### Key points", "A few things to know:"),
     ("**Example**", "For example:", "### Example", "A concrete case:"),
     ("**An analogy**", "An analogy may help:", "### Analogy", "One way to picture it:"),
     ("**A common misconception**", "One thing people often get wrong:", "### Common misconception", "Watch out for this:"),
     ("**Related idea: {t}**", "A related concept is {t}.", "### Related: {t}", "It also helps to know about {t}.")),
    (("**要点**", "主要有以下几点：", "### 要点", "需要了解的几点："),
     ("**举个例子**", "例如：", "### 例子", "一个具体的例子："),
     ("**打个比方**", "打个比方：", "### 类比", "可以这样想象："),
     ("**常见误区**", "人们常有的一个误解：", "### 常见误区", "需要注意："),
     ("**相关概念：{t}**", "与之相关的一个概念是{t}。", "### 相关：{t}", "顺便了解一下{t}也有帮助。")),
)
_OPEN_LINES = (("", "", "", "Sure! ", "Great question. ", "Happy to explain. ", "Of course. "),
               ("", "", "", "好的！", "这是个好问题。", "乐意为你解释。", "简单来说，"))
_CLOSE_LINES = (("", "", "I hope this helps! Let me know if you'd like more detail on any of these points.",
                 "Feel free to ask if you want to go deeper into any part of this.",
                 "In short, once the core idea clicks, the details follow naturally."),
                ("", "", "希望这些解释对你有帮助！如果想深入了解某一点，可以继续问我。", "如果还想深入某个部分，欢迎继续提问。",
                 "总之，抓住核心思想后，细节就容易理解了。"))

# Code tasks: (language, (English title, Chinese title), function names, code template,
# (English notes, Chinese notes), (English complexity, Chinese complexity), test template).
_CODE_TASKS = (
    ("python", ("reverses the order of the words in a sentence", "反转句子中单词的顺序"), ("reverse_words", "flip_words", "reverse_sentence"),
     'def {fn}(sentence: str) -> str:\n    """Return the words of `sentence` in reverse order."""\n    words = sentence.split()\n    return " ".join(reversed(words))\n',
     (("`split()` with no argument splits on any run of whitespace and drops empty strings.",
       "`reversed()` walks the list backwards without copying it.", "`\" \".join(...)` glues the words back together with single spaces."),
      ("不带参数的 `split()` 会按任意连续空白切分，并丢弃空字符串。", "`reversed()` 倒序遍历列表，不会复制列表。", "`\" \".join(...)` 用单个空格把单词重新拼接起来。")),
     ("It runs in O(n) time and O(n) extra space for a sentence of length n.", "时间复杂度 O(n)，额外空间 O(n)，n 为句子长度。"),
     'def test_{fn}():\n    assert {fn}("hello big world") == "world big hello"\n    assert {fn}("  spaced   out  ") == "out spaced"\n    assert {fn}("") == ""\n'),
    ("python", ("checks whether a string is a palindrome, ignoring case and punctuation", "判断字符串是否为回文（忽略大小写和标点）"), ("is_palindrome", "check_palindrome"),
     'def {fn}(text: str) -> bool:\n    """True if `text` reads the same backwards, ignoring case and non-alphanumerics."""\n    cleaned = [ch.lower() for ch in text if ch.isalnum()]\n    return cleaned == cleaned[::-1]\n',
     (("The list comprehension keeps only letters and digits, lowercased.", "`cleaned[::-1]` is the reversed list.",
       "Comparing the two lists answers the question in one expression."),
      ("列表推导式只保留字母和数字，并转成小写。", "`cleaned[::-1]` 是反转后的列表。", "比较两个列表，一个表达式就得到结果。")),
     ("Time and extra space are both O(n).", "时间和额外空间都是 O(n)。"),
     'def test_{fn}():\n    assert {fn}("A man, a plan, a canal: Panama")\n    assert not {fn}("hello")\n    assert {fn}("")\n'),
    ("python", ("returns the n-th Fibonacci number iteratively", "用迭代计算第 n 个斐波那契数"), ("fibonacci", "fib", "nth_fibonacci"),
     'def {fn}(n: int) -> int:\n    """Return F(n) with F(0) = 0 and F(1) = 1."""\n    if n < 0:\n        raise ValueError("n must be non-negative")\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n',
     (("Two variables hold consecutive Fibonacci numbers.", "Each loop step shifts the pair forward by one.",
       "Negative input is rejected explicitly instead of looping forever or returning nonsense."),
      ("两个变量保存相邻的两个斐波那契数。", "每次循环把这一对数向前推进一位。", "对负数输入直接报错，而不是返回无意义的结果。")),
     ("O(n) time and O(1) space, much better than the naive recursive version, which is exponential.", "时间 O(n)，空间 O(1)，远好于指数级的朴素递归写法。"),
     'def test_{fn}():\n    assert [{fn}(i) for i in range(8)] == [0, 1, 1, 2, 3, 5, 8, 13]\n    assert {fn}(30) == 832040\n'),
    ("python", ("counts how often each word appears in a text", "统计文本中每个单词出现的次数"), ("word_counts", "count_words", "word_frequency"),
     'from collections import Counter\nimport re\n\n\ndef {fn}(text: str) -> Counter:\n    """Case-insensitive word frequencies of `text`."""\n    words = re.findall(r"[a-z\']+", text.lower())\n    return Counter(words)\n',
     (("`text.lower()` makes the count case-insensitive.", "The regular expression picks out runs of letters and apostrophes, so punctuation is ignored.",
       "`Counter` tallies the words and offers `most_common(k)` for the top entries."),
      ("`text.lower()` 让统计不区分大小写。", "正则表达式提取连续的字母和撇号，从而忽略标点。", "`Counter` 负责计数，还提供 `most_common(k)` 取出最常见的词。")),
     ("Linear in the length of the text.", "复杂度与文本长度成线性关系。"),
     'def test_{fn}():\n    counts = {fn}("The cat and the hat.")\n    assert counts["the"] == 2\n    assert counts["cat"] == 1\n'),
    ("python", ("removes duplicates from a list while keeping the original order", "去除列表中的重复元素并保持原有顺序"), ("dedupe", "unique_in_order", "remove_duplicates"),
     'def {fn}(items: list) -> list:\n    """Items of `items` without repeats, first occurrence kept."""\n    seen = set()\n    result = []\n    for item in items:\n        if item not in seen:\n            seen.add(item)\n            result.append(item)\n    return result\n',
     (("The set `seen` gives constant-time membership checks.", "Items are appended only the first time they appear, which preserves order.",
       "The items must be hashable; for lists of lists you would convert them to tuples first."),
      ("集合 `seen` 提供常数时间的成员判断。", "元素只在第一次出现时加入结果，从而保持顺序。", "元素必须可哈希；如果是列表的列表，需要先转成元组。")),
     ("O(n) time and O(n) extra space.", "时间 O(n)，额外空间 O(n)。"),
     'def test_{fn}():\n    assert {fn}([3, 1, 3, 2, 1]) == [3, 1, 2]\n    assert {fn}([]) == []\n'),
    ("python", ("performs binary search on a sorted list", "在有序列表上进行二分查找"), ("binary_search", "bsearch", "find_index"),
     'def {fn}(items: list[int], target: int) -> int:\n    """Index of `target` in the sorted list `items`, or -1 if absent."""\n    lo, hi = 0, len(items) - 1\n    while lo <= hi:\n        mid = (lo + hi) // 2\n        if items[mid] == target:\n            return mid\n        if items[mid] < target:\n            lo = mid + 1\n        else:\n            hi = mid - 1\n    return -1\n',
     (("`lo` and `hi` bound the part of the list that can still contain the target.", "Each comparison discards half of that range.",
       "The loop ends when the range is empty, which means the target is not there."),
      ("`lo` 和 `hi` 界定了目标可能所在的范围。", "每次比较都会排除一半的范围。", "当范围为空时循环结束，说明目标不存在。")),
     ("O(log n) time and O(1) space; the list must already be sorted.", "时间 O(log n)，空间 O(1)；前提是列表已经有序。"),
     'def test_{fn}():\n    data = [1, 3, 5, 7, 9, 11]\n    assert {fn}(data, 7) == 3\n    assert {fn}(data, 4) == -1\n    assert {fn}([], 1) == -1\n'),
    ("python", ("flattens an arbitrarily nested list", "把任意嵌套的列表展平"), ("flatten", "flatten_list", "deep_flatten"),
     'def {fn}(nested: list) -> list:\n    """All non-list elements of `nested`, in order, at any depth."""\n    flat = []\n    for item in nested:\n        if isinstance(item, list):\n            flat.extend({fn}(item))\n        else:\n            flat.append(item)\n    return flat\n',
     (("The function calls itself on every inner list: this is recursion.", "Non-list items are appended directly, which is the base case.",
       "Very deep nesting could hit Python's recursion limit; an explicit stack avoids that."),
      ("函数对每个内层列表调用自身，这就是递归。", "非列表元素直接加入结果，这是终止条件。", "嵌套极深时可能触及 Python 的递归深度限制，可以改用显式栈。")),
     ("O(n) time in the total number of elements.", "时间复杂度与元素总数成线性关系。"),
     'def test_{fn}():\n    assert {fn}([1, [2, [3, [4]], 5]]) == [1, 2, 3, 4, 5]\n    assert {fn}([]) == []\n'),
    ("python", ("lists all prime numbers up to n with the sieve of Eratosthenes", "用埃拉托色尼筛法求出不超过 n 的所有质数"), ("primes_up_to", "sieve", "list_primes"),
     'def {fn}(n: int) -> list[int]:\n    """All primes <= n."""\n    if n < 2:\n        return []\n    is_prime = [True] * (n + 1)\n    is_prime[0] = is_prime[1] = False\n    for p in range(2, int(n ** 0.5) + 1):\n        if is_prime[p]:\n            for multiple in range(p * p, n + 1, p):\n                is_prime[multiple] = False\n    return [i for i, flag in enumerate(is_prime) if flag]\n',
     (("Start by assuming every number is prime, then cross out multiples.", "Crossing out starts at p * p because smaller multiples were already removed by smaller primes.",
       "Only primes up to the square root of n need to be processed."),
      ("先假设所有数都是质数，再划掉倍数。", "从 p * p 开始划，是因为更小的倍数已经被更小的质数划掉了。", "只需处理不超过 n 的平方根的质数。")),
     ("O(n log log n) time and O(n) space.", "时间 O(n log log n)，空间 O(n)。"),
     'def test_{fn}():\n    assert {fn}(20) == [2, 3, 5, 7, 11, 13, 17, 19]\n    assert {fn}(1) == []\n'),
    ("python", ("merges two sorted lists into one sorted list", "把两个有序列表合并成一个有序列表"), ("merge_sorted", "merge_lists"),
     'def {fn}(a: list[int], b: list[int]) -> list[int]:\n    """Merge two ascending lists into one ascending list."""\n    i = j = 0\n    merged = []\n    while i < len(a) and j < len(b):\n        if a[i] <= b[j]:\n            merged.append(a[i])\n            i += 1\n        else:\n            merged.append(b[j])\n            j += 1\n    merged.extend(a[i:])\n    merged.extend(b[j:])\n    return merged\n',
     (("Two indices walk through the lists at the same time.", "The smaller current element is taken each step, so the output stays sorted.",
       "Whatever remains in either list is already sorted and is appended at the end."),
      ("两个下标同时遍历两个列表。", "每一步取当前较小的元素，所以输出保持有序。", "任一列表剩下的部分本身有序，直接追加到末尾。")),
     ("O(len(a) + len(b)) time; this is the merge step of merge sort.", "时间 O(len(a) + len(b))，这正是归并排序的合并步骤。"),
     'def test_{fn}():\n    assert {fn}([1, 4, 9], [2, 3, 10]) == [1, 2, 3, 4, 9, 10]\n    assert {fn}([], [1]) == [1]\n'),
    ("python", ("computes the average of one column of a CSV file", "计算 CSV 文件中某一列的平均值"), ("column_average", "average_column"),
     'import csv\n\n\ndef {fn}(path: str, column: str) -> float:\n    """Mean of the numeric values in `column` of the CSV file at `path`."""\n    total, count = 0.0, 0\n    with open(path, newline="", encoding="utf-8") as fh:\n        for row in csv.DictReader(fh):\n            value = row.get(column, "").strip()\n            if value:\n                total += float(value)\n                count += 1\n    if count == 0:\n        raise ValueError(f"no values in column {{column!r}}")\n    return total / count\n',
     (("`csv.DictReader` maps each row to a dict keyed by the header names.", "Empty cells are skipped instead of crashing the conversion.",
       "An explicit error is raised when the column has no values, rather than dividing by zero."),
      ("`csv.DictReader` 把每一行映射成以表头为键的字典。", "空单元格会被跳过，不会导致转换出错。", "如果该列没有任何值，会明确报错，而不是除以零。")),
     ("It reads the file once: O(rows) time and O(1) extra memory.", "只读一遍文件：时间 O(行数)，额外内存 O(1)。"),
     None),
    ("sql", ("finds the five customers with the highest total order amount", "找出订单总金额最高的五位客户"), ("top_customers",),
     '-- {fn}\nSELECT c.customer_id,\n       c.name,\n       SUM(o.amount) AS total_amount\nFROM customers AS c\nJOIN orders AS o ON o.customer_id = c.customer_id\nGROUP BY c.customer_id, c.name\nORDER BY total_amount DESC\nLIMIT 5;\n',
     (("The join pairs each order with its customer.", "`GROUP BY` collapses the orders of each customer into one row, and `SUM` adds their amounts.",
       "`ORDER BY ... DESC LIMIT 5` keeps the five largest totals."),
      ("连接（JOIN）把每个订单和对应客户配对。", "`GROUP BY` 把同一客户的订单合并成一行，`SUM` 求出金额总和。", "`ORDER BY ... DESC LIMIT 5` 保留总额最高的五行。")),
     ("An index on orders.customer_id keeps the join fast on large tables.", "在 orders.customer_id 上建索引，可以让大表上的连接更快。"),
     None),
    ("javascript", ("debounces a function so it only runs after calls have stopped for a while", "为函数加防抖，只在调用停止一段时间后才执行"), ("debounce",),
     'function {fn}(fn, waitMs) {{\n  let timer = null;\n  return function (...args) {{\n    clearTimeout(timer);\n    timer = setTimeout(() => fn.apply(this, args), waitMs);\n  }};\n}}\n\n// usage: input.addEventListener("input", {fn}(search, 300));\n',
     (("Each call cancels the pending timer and starts a new one.", "The wrapped function runs only when no call has arrived for `waitMs` milliseconds.",
       "`fn.apply(this, args)` forwards both the arguments and the `this` value."),
      ("每次调用都会取消尚未执行的定时器并重新计时。", "只有在 `waitMs` 毫秒内没有新的调用时，被包装的函数才会执行。", "`fn.apply(this, args)` 同时转发参数和 `this`。")),
     ("It is typically used for search boxes and resize handlers to avoid doing work on every keystroke.", "常用于搜索框和窗口缩放事件，避免每次按键都执行一遍。"),
     None),
    ("bash", ("renames every .txt file in a folder to .md", "把文件夹中所有 .txt 文件改名为 .md"), ("rename_txt",),
     '#!/usr/bin/env bash\n# {fn}: rename *.txt to *.md in the given folder (default: current folder)\nset -euo pipefail\ncd "${{1:-.}}"\nfor f in *.txt; do\n  [ -e "$f" ] || continue\n  mv -- "$f" "${{f%.txt}}.md"\ndone\n',
     (("`${1:-.}` uses the first argument, or the current folder if none is given.", "`[ -e \"$f\" ] || continue` skips the loop body when no .txt file exists.",
       "`${f%.txt}` strips the .txt suffix before adding .md."),
      ("`${1:-.}` 使用第一个参数，未提供时使用当前文件夹。", "`[ -e \"$f\" ] || continue` 在没有 .txt 文件时跳过循环体。", "`${f%.txt}` 去掉 .txt 后缀，再加上 .md。")),
     ("`set -euo pipefail` makes the script stop at the first error.", "`set -euo pipefail` 让脚本在第一次出错时停止。"),
     None),
    ("python", ("checks whether two words are anagrams of each other", "判断两个单词是否互为字母异位词"), ("are_anagrams", "is_anagram"),
     'from collections import Counter\n\n\ndef {fn}(a: str, b: str) -> bool:\n    """True if `a` and `b` use the same letters the same number of times."""\n    return Counter(a.lower()) == Counter(b.lower())\n',
     (("`Counter` builds a letter-frequency table for each word.", "Two words are anagrams exactly when their tables are equal.",
       "Lowercasing first makes the check case-insensitive."),
      ("`Counter` 为每个单词建立字母频率表。", "两个单词互为异位词，当且仅当两张表相同。", "先转小写，使判断不区分大小写。")),
     ("O(n) time, versus O(n log n) for the sort-and-compare approach.", "时间 O(n)，而先排序再比较的方法是 O(n log n)。"),
     'def test_{fn}():\n    assert {fn}("Listen", "Silent")\n    assert not {fn}("apple", "paper")\n'),
    ("python", ("transposes a matrix given as a list of rows", "转置以行列表表示的矩阵"), ("transpose", "transpose_matrix"),
     'def {fn}(matrix: list[list[int]]) -> list[list[int]]:\n    """Rows become columns."""\n    return [list(row) for row in zip(*matrix)]\n',
     (("`zip(*matrix)` pairs up the i-th elements of every row, which are exactly the columns.", "Each tuple from `zip` is turned back into a list.",
       "For ragged input, `zip` stops at the shortest row, so check the shape first if that matters."),
      ("`zip(*matrix)` 把每一行的第 i 个元素组合在一起，这正是各列。", "把 `zip` 产生的每个元组再转回列表。", "如果各行长度不一，`zip` 会在最短的一行处停止，必要时先检查形状。")),
     ("O(rows × columns) time and space.", "时间和空间都是 O(行数 × 列数)。"),
     'def test_{fn}():\n    assert {fn}([[1, 2, 3], [4, 5, 6]]) == [[1, 4], [2, 5], [3, 6]]\n'),
)
_CODE_ASK = (
    ("Write a {lang} function that {title}.", "Can you help me write {lang} code that {title}?", "I need a {lang} snippet that {title}. How would you do it?",
     "How do I write a function in {lang} that {title}?", "Please write a {lang} function named `{fn}` that {title}."),
    ("用 {lang} 写一个函数，{title}。", "能帮我写一段 {lang} 代码吗？要求：{title}。", "我需要一个 {lang} 代码片段来{title}，该怎么写？",
     "在 {lang} 里怎样写一个函数来{title}？", "请写一个名为 `{fn}` 的 {lang} 函数，功能是{title}。"),
)
_LANG_NAMES = {"python": "Python", "sql": "SQL", "javascript": "JavaScript", "bash": "Bash"}

# Advice topics: (English title, Chinese title, [(English tip, Chinese tip), ...])
_ADVICE = (
    ("study more effectively", "更高效地学习", (
        ("Use active recall: close the book and try to write down what you remember.", "主动回忆：合上书，试着写下你记得的内容。"),
        ("Space your reviews over days instead of cramming the night before.", "把复习分散到几天里，而不是考前一晚突击。"),
        ("Work in focused blocks of 25 to 50 minutes with short breaks.", "以 25 到 50 分钟为一段专注学习，中间短暂休息。"),
        ("Explain the material out loud as if teaching a friend.", "假装给朋友讲课，把内容大声讲出来。"),
        ("Practice with past questions under timed conditions.", "在限时条件下做往年真题。"),
        ("Put your phone in another room while you study.", "学习时把手机放到另一个房间。"),
        ("Sleep well; memory consolidates during sleep.", "保证睡眠，记忆会在睡眠中得到巩固。"),
        ("Mix different topics in one session to strengthen understanding.", "在一次学习中穿插不同主题，加深理解。"))),
    ("manage my time better", "更好地管理时间", (
        ("Write down everything you need to do so it stops cluttering your head.", "把要做的事全部写下来，别让它们占据大脑。"),
        ("Pick the three most important tasks for each day.", "每天挑出三件最重要的事。"),
        ("Block time on your calendar for deep work and protect it.", "在日历上为专注工作预留时间，并守住它。"),
        ("Batch small tasks like email into one or two slots a day.", "把回邮件这类小事集中到每天一两个时段处理。"),
        ("Say no to commitments that do not serve your priorities.", "拒绝与优先事项无关的承诺。"),
        ("Break big projects into steps small enough to start today.", "把大项目拆成今天就能开始的小步骤。"),
        ("Review your week every Friday and plan the next one.", "每周五回顾本周，并规划下周。"),
        ("Leave buffer time between meetings for overruns.", "会议之间留出缓冲时间，以防拖延。"))),
    ("sleep better", "睡得更好", (
        ("Go to bed and wake up at the same time every day, weekends included.", "每天同一时间睡觉和起床，周末也一样。"),
        ("Keep the bedroom cool, dark and quiet.", "保持卧室凉爽、黑暗、安静。"),
        ("Avoid caffeine after early afternoon.", "下午早些时候之后不要摄入咖啡因。"),
        ("Dim screens and lights in the hour before bed.", "睡前一小时调暗屏幕和灯光。"),
        ("Get daylight in the morning to set your body clock.", "早晨晒晒太阳，帮助调节生物钟。"),
        ("If you cannot sleep after 20 minutes, get up and do something calm.", "如果 20 分钟还睡不着，就起来做点安静的事。"),
        ("Keep heavy meals and alcohol away from bedtime.", "睡前避免大餐和饮酒。"),
        ("Exercise regularly, but not right before bed.", "规律运动，但不要在临睡前运动。"))),
    ("prepare for a job interview", "准备求职面试", (
        ("Research the company's products, customers and recent news.", "了解公司的产品、客户和近期新闻。"),
        ("Prepare short stories that show your skills, using situation, task, action and result.", "准备几个能展示能力的小故事，按情境、任务、行动、结果来讲。"),
        ("Practice answering common questions out loud.", "大声练习回答常见问题。"),
        ("Prepare two or three thoughtful questions for the interviewer.", "准备两三个有见地的问题问面试官。"),
        ("Test your camera and microphone before a video interview.", "视频面试前测试好摄像头和麦克风。"),
        ("Bring concrete numbers about your past results.", "用具体数字说明过去的成果。"),
        ("Send a brief thank-you note afterwards.", "面试后发一封简短的感谢信。"),
        ("Review the job description and match your experience to it.", "对照职位描述，把自己的经历与之对应起来。"))),
    ("learn a new language", "学习一门新语言", (
        ("Practice a little every day rather than a lot once a week.", "每天练一点，胜过每周练很多。"),
        ("Learn the most frequent words first.", "先学最常用的词汇。"),
        ("Speak from the first week, even if you make mistakes.", "从第一周就开口说，哪怕会出错。"),
        ("Use spaced-repetition flashcards for vocabulary.", "用间隔重复的闪卡记单词。"),
        ("Listen to podcasts or shows made for learners.", "听为学习者制作的播客或节目。"),
        ("Find a conversation partner or tutor.", "找一个语伴或老师。"),
        ("Learn whole phrases, not just single words.", "学习整句短语，而不只是单个单词。"),
        ("Keep a short diary in the new language.", "用新语言写简短的日记。"))),
    ("save more money", "多存一些钱", (
        ("Track every expense for a month to see where the money goes.", "记录一个月的所有开销，看看钱花在了哪里。"),
        ("Set up an automatic transfer to savings on payday.", "在发薪日自动转一笔钱到储蓄账户。"),
        ("Build an emergency fund that covers three to six months of expenses.", "建立能覆盖三到六个月开支的应急基金。"),
        ("Cancel subscriptions you no longer use.", "取消不再使用的订阅服务。"),
        ("Wait 48 hours before any non-essential purchase.", "非必需品购买前先等 48 小时。"),
        ("Cook at home more often and plan meals for the week.", "多在家做饭，并提前规划一周的饭菜。"),
        ("Pay off high-interest debt first.", "优先还清高利率的债务。"),
        ("Set a specific goal, such as an amount and a date.", "设定具体目标，比如金额和日期。"))),
    ("reduce stress at work", "缓解工作压力", (
        ("Take short breaks away from your screen every hour or so.", "大约每小时离开屏幕休息一会儿。"),
        ("Clarify priorities with your manager when everything seems urgent.", "当一切都显得紧急时，和上级确认优先级。"),
        ("Write tomorrow's to-do list before you leave, so work stays at work.", "下班前写好明天的待办清单，把工作留在办公室。"),
        ("Move your body: a short walk can reset your mood.", "活动身体，短暂散步就能调整情绪。"),
        ("Set boundaries on after-hours messages.", "给下班后的消息设定边界。"),
        ("Talk to a trusted colleague or friend about what is weighing on you.", "和信任的同事或朋友聊聊你的压力。"),
        ("Notice and limit perfectionism on low-stakes tasks.", "留意并减少在不重要的任务上追求完美。"),
        ("Protect your sleep; tired minds feel more stressed.", "保证睡眠，疲惫会放大压力感。"))),
    ("start running as a beginner", "作为新手开始跑步", (
        ("Start with run-walk intervals, such as one minute running and two minutes walking.", "从跑走结合开始，比如跑一分钟、走两分钟。"),
        ("Run at a pace where you can still talk.", "以还能说话的配速跑步。"),
        ("Increase your weekly distance by no more than about 10 percent.", "每周跑量的增加不超过约 10%。"),
        ("Get shoes that fit well; comfort matters more than brand.", "买一双合脚的鞋，舒适比品牌更重要。"),
        ("Schedule rest days to let your body adapt.", "安排休息日，让身体适应。"),
        ("Warm up with a few minutes of brisk walking.", "先快走几分钟热身。"),
        ("Add strength exercises for legs and core twice a week.", "每周两次做腿部和核心力量练习。"),
        ("Track your runs to see your progress.", "记录每次跑步，看到自己的进步。"))),
)
_ADVICE_Q = (("How can I {t}?", "Any tips to {t}?", "I want to {t}. Where should I start?", "What are some practical ways to {t}?",
              "Give me a few concrete tips to {t}."),
             ("我怎样才能{t}？", "有什么办法能{t}吗？", "我想{t}，应该从哪里开始？", "有哪些实用的方法可以{t}？", "给我几条具体建议，帮我{t}。"))

# Parallel sentences for translation requests: (English, Chinese). Written for this kit.
_PAIRS = (
    ("The meeting has been moved to Thursday afternoon.", "会议改到了星期四下午。"),
    ("Please send me the report by the end of the day.", "请在今天下班前把报告发给我。"),
    ("I have been learning to play the piano for three years.", "我学钢琴已经三年了。"),
    ("The train was delayed because of heavy snow.", "由于大雪，火车晚点了。"),
    ("Could you recommend a good restaurant near the station?", "你能推荐一家车站附近的好餐馆吗？"),
    ("Our team finished the project two weeks ahead of schedule.", "我们团队比计划提前两周完成了项目。"),
    ("Drinking enough water is important for your health.", "喝足够的水对健康很重要。"),
    ("The library is closed on public holidays.", "图书馆在法定节假日闭馆。"),
    ("She explained the problem clearly and patiently.", "她清楚而耐心地解释了这个问题。"),
    ("We need to reduce costs without lowering quality.", "我们需要在不降低质量的前提下降低成本。"),
    ("The new software update fixes several security issues.", "新的软件更新修复了几个安全问题。"),
    ("It took me a long time to find the right answer.", "我花了很长时间才找到正确答案。"),
    ("Thank you for your help; I really appreciate it.", "谢谢你的帮助，我非常感激。"),
    ("The museum offers free guided tours every Sunday.", "博物馆每周日提供免费导览。"),
    ("Prices have risen sharply over the past year.", "过去一年物价大幅上涨。"),
    ("Remember to back up your files regularly.", "记得定期备份你的文件。"),
    ("The children are playing football in the park.", "孩子们正在公园里踢足球。"),
    ("He decided to change careers at the age of forty.", "他在四十岁时决定转行。"),
    ("This medicine should be taken after meals.", "这种药应在饭后服用。"),
    ("The weather forecast says it will rain tomorrow.", "天气预报说明天会下雨。"),
    ("Customer satisfaction is our top priority.", "客户满意是我们的首要任务。"),
    ("Please turn off the lights when you leave the room.", "离开房间时请关灯。"),
    ("The experiment produced unexpected results.", "实验得出了意想不到的结果。"),
    ("I would like to book a table for four at seven o'clock.", "我想订一张七点钟的四人桌。"),
    ("Reading every day helps you expand your vocabulary.", "每天阅读有助于扩大词汇量。"),
    ("The company plans to open two new offices next year.", "公司计划明年开设两个新办事处。"),
    ("Our flight lands at nine in the evening, local time.", "我们的航班当地时间晚上九点降落。"),
    ("The river flows through the middle of the city.", "这条河从城市中间流过。"),
    ("Good communication can prevent many misunderstandings.", "良好的沟通可以避免许多误会。"),
    ("Please fill in this form and return it to the front desk.", "请填写这张表格并交回前台。"),
    ("The exhibition will run until the end of March.", "展览将持续到三月底。"),
    ("He apologized for being late to the interview.", "他为面试迟到而道歉。"),
    ("Regular exercise improves both mood and sleep.", "规律运动能改善情绪和睡眠。"),
    ("The password must contain at least eight characters.", "密码至少要包含八个字符。"),
    ("We walked along the beach as the sun went down.", "太阳落山时，我们沿着海滩散步。"),
    ("The data shows a steady increase in online sales.", "数据显示网上销售额稳步增长。"),
    ("If you have any questions, feel free to contact me.", "如果有任何问题，欢迎随时联系我。"),
    ("The bridge was built more than a hundred years ago.", "这座桥建于一百多年前。"),
    ("Learning from mistakes is part of growing up.", "从错误中学习是成长的一部分。"),
    ("The store will be closed for renovation next week.", "商店下周将因装修停业。"),
)
_TRANSLATE_Q = (("Translate the following into Chinese:\n\n{src}", "How would you say this in Chinese?\n\n{src}", "Please translate to Chinese: {src}"),
                ("请把下面的句子翻译成英文：\n\n{src}", "这段话用英文怎么说？\n\n{src}", "翻译成英文：{src}"))
_TRANSLATE_A = (("Here is the Chinese translation:\n\n{dst}", "{dst}", "In Chinese:\n\n{dst}"),
                ("英文翻译如下：\n\n{dst}", "{dst}", "可以这样翻译：\n\n{dst}"))

# Personas for system-first conversations: (system prompt, style)
_PERSONAS = (
    (("You are a patient tutor. Keep explanations simple and check the user's understanding at the end.", "question"),
     ("Answer in no more than three sentences.", "brief"),
     ("You are a helpful assistant. Format answers as bullet points whenever possible.", "bullets"),
     ("You are a friendly science communicator for curious teenagers.", "plain"),
     ("You are a concise technical assistant. Avoid filler and get straight to the point.", "brief"),
     ("Always end your reply with a short question that invites the user to continue.", "question"),
     ("You are a careful assistant. If something is uncertain, say so plainly.", "plain")),
    (("你是一位耐心的老师。讲解要简单明了，最后确认一下用户是否理解。", "question"),
     ("回答不超过三句话。", "brief"),
     ("你是一个乐于助人的助手，尽量用要点列表的形式回答。", "bullets"),
     ("你是一位面向好奇青少年的科普作者。", "plain"),
     ("你是一个简洁的技术助手，不说废话，直奔主题。", "brief"),
     ("每次回答结尾都要提一个简短的问题，引导用户继续交流。", "question"),
     ("你是一个严谨的助手，不确定的地方要直接说明。", "plain")),
)
_QUESTION_TAILS = (("Does that make sense so far?", "Would you like an example?", "Which part should we look at next?",
                    "Want me to go into more detail on any point?"),
                   ("到这里能理解吗？", "需要我举个例子吗？", "接下来想看哪一部分？", "需要我详细展开其中哪一点吗？"))
_GENERIC_SYSTEM = (("You are a helpful assistant.", "You are an AI assistant. Provide a detailed answer so the user does not need to search elsewhere.",
                    "You are a knowledgeable tutor. Explain your reasoning step by step.",
                    "You are an AI assistant that helps people find information."),
                   ("你是一个乐于助人的助手。", "你是一个 AI 助手，请给出详细的回答，让用户不必再去别处查找。",
                    "你是一位知识渊博的老师，请一步一步解释你的推理。", "你是一个帮助人们查找信息的 AI 助手。"))


# Emails: kind -> (English request, Chinese request, English parts, Chinese parts). Parts are
# (subject, greeting, body sentences, closing); body sentences are used in order, as many as
# the length budget allows (the first two always).
_EMAILS = (
    ("Write an email to my manager {boss} asking for a day off on {day}.", "帮我写一封邮件给经理{boss}，申请{day}请假一天。",
     ("Request for a day off on {day}", "Dear {boss},",
      ("I would like to request a day off on {day} to take care of a personal matter.",
       "I have checked our team calendar, and there are no deadlines or meetings that need me that day.",
       "{peer} has kindly agreed to cover anything urgent while I am away.",
       "I will make sure my current tasks are up to date before I leave on the day before.",
       "I will also be reachable by phone for anything that cannot wait.",
       "If that day is inconvenient for the team, I am happy to discuss another date."),
      "Thank you for considering my request.\n\nBest regards,\n{me}"),
     ("申请{day}请假一天", "{boss}您好：",
      ("我想申请{day}请假一天，处理一些个人事务。", "我已经查看了团队日程，当天没有需要我参加的截止任务或会议。",
       "{peer}已经答应帮我处理请假期间的紧急事项。", "请假前一天，我会把手头的工作整理好并同步进度。",
       "如有无法等待的事情，我也可以通过电话联系。", "如果这一天对团队不方便，我也可以改到其他日期。"),
      "感谢您的考虑！\n\n此致\n敬礼\n{me}")),
    ("Draft a follow-up email to {boss} after my interview for the {role} position at {company}.", "帮我写一封面试后的跟进邮件，发给{company}的{boss}，我面试的是{role}岗位。",
     ("Thank you for the {role} interview", "Dear {boss},",
      ("Thank you for taking the time to speak with me about the {role} position at {company}.",
       "I enjoyed learning more about the team and the projects you are planning for the coming year.",
       "Our conversation confirmed my interest in the role and my confidence that my experience would be a good fit.",
       "In particular, I was excited to hear about the focus on improving the customer experience, which is where I have done my best work.",
       "Please let me know if you need any further information from me, such as references or work samples.",
       "I look forward to hearing about the next steps."),
      "Thank you again for your time.\n\nKind regards,\n{me}"),
     ("感谢{role}岗位的面试机会", "{boss}您好：",
      ("感谢您抽出时间和我交流{company}{role}岗位的相关情况。", "很高兴进一步了解了团队以及明年计划开展的项目。",
       "这次交流让我对这个岗位更感兴趣，也更有信心自己的经验能够胜任。", "尤其是听到团队将重点改善用户体验，这正是我过去做得最好的方向。",
       "如果还需要我提供推荐人或作品样例等材料，请随时告诉我。", "期待您关于后续流程的消息。"),
      "再次感谢您的时间！\n\n祝好\n{me}")),
    ("Write a polite complaint email about order {order}, which is {late} days late.", "写一封礼貌的投诉邮件，订单号 {order}，已经延迟 {late} 天了。",
     ("Order {order} is {late} days late", "Hello,",
      ("I am writing about order {order}, which was due to arrive {late} days ago and has still not been delivered.",
       "The tracking page has not been updated since the parcel left the warehouse.",
       "I ordered it for a specific date, so the delay has caused me some inconvenience.",
       "Could you please check the status of the shipment and let me know when I can expect it?",
       "If the parcel cannot be found, I would like either a replacement sent by express delivery or a full refund.",
       "I have been happy with your service before and hope we can resolve this quickly."),
      "Thank you for your help.\n\nSincerely,\n{me}"),
     ("订单 {order} 已延迟 {late} 天", "您好：",
      ("我想咨询订单 {order} 的情况。这个订单本应在 {late} 天前送达，但至今仍未收到。", "包裹离开仓库后，物流信息就再也没有更新过。",
       "我是为某个特定日期下的单，这次延误给我带来了一些不便。", "麻烦您帮忙查询一下包裹的状态，并告诉我预计何时能收到。",
       "如果包裹已经找不到了，希望能用快递补发，或者全额退款。", "我之前对贵店的服务一直很满意，希望这个问题能尽快解决。"),
      "谢谢您的帮助！\n\n{me}")),
    ("Help me write a thank-you note to my colleague {peer} for helping with {thing}.", "帮我给同事{peer}写一封感谢信，感谢他帮忙{thing}。",
     ("Thank you for your help with {thing}", "Hi {peer},",
      ("I wanted to say a proper thank you for your help with {thing}.",
       "You made time for it during a busy week, and it made a real difference.",
       "Your suggestions saved me hours and made the result much better than what I had planned.",
       "I also learned a lot from the way you approached the problem.",
       "Please let me know whenever I can return the favor."),
      "Thanks again,\n{me}"),
     ("感谢你帮忙{thing}", "{peer}你好：",
      ("想郑重地谢谢你帮我{thing}。", "你在很忙的一周里抽出时间帮忙，真的起了很大作用。",
       "你的建议帮我省了好几个小时，结果也比我原来计划的好得多。", "我也从你处理问题的方式中学到了很多。",
       "以后如果有我能帮忙的地方，请一定告诉我。"),
      "再次感谢！\n{me}")),
    ("Write an email to {boss} asking to move our {day} meeting.", "写一封邮件给{boss}，请求调整我们{day}的会议时间。",
     ("Request to reschedule our {day} meeting", "Dear {boss},",
      ("Unfortunately, something has come up and I will not be able to attend our meeting on {day}.",
       "I am sorry for the short notice.",
       "Would any of the following times work for you instead: {day} afternoon, or any time the following morning?",
       "If none of these suit you, I am happy to fit around your schedule.",
       "In the meantime, I will send over the documents we planned to discuss so you can review them beforehand."),
      "Thank you for your understanding.\n\nBest,\n{me}"),
     ("申请调整{day}的会议时间", "{boss}您好：",
      ("很抱歉，我临时有事，无法参加{day}的会议。", "这么晚才通知您，非常抱歉。",
       "不知道改到{day}下午或者第二天上午的任意时间是否方便？", "如果这些时间都不合适，我可以配合您的安排。",
       "在此之前，我会先把要讨论的材料发给您，方便您提前查看。"),
      "感谢您的理解！\n\n{me}")),
)
_EMAIL_TIPS = (("Keep the subject line specific so it is easy to find later.", "Put the request or the key point in the first two sentences.",
                "Read it once out loud; awkward phrasing is easier to hear than to see.", "Double-check names, dates and numbers.",
                "If you attach files, mention them in the text.", "Send it during working hours if it is not urgent."),
               ("标题要具体，方便对方以后查找。", "把请求或重点放在前两句。", "发送前读一遍，别扭的措辞读出来更容易发现。", "仔细核对姓名、日期和数字。",
                "如果有附件，在正文里提一句。", "不紧急的邮件尽量在工作时间发送。"))
_DAYS = (("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"), ("周一", "周二", "周三", "周四", "周五"))
_ROLES = (("data analyst", "product designer", "software engineer", "marketing coordinator", "project manager"),
          ("数据分析师", "产品设计师", "软件工程师", "市场专员", "项目经理"))
_COMPANIES = ("Northwind Labs", "Bluepeak Systems", "Greenfield Analytics", "Harbor & Finch", "Lumen Works")
_THINGS = (("the quarterly report", "the client presentation", "fixing the login bug", "onboarding the new interns"),
           ("完成季度报告", "准备客户演示", "修复登录问题", "带新来的实习生"))

# Stories: characters, situations, places and sentence pools with {name}, {place}, {obj}.
_STORY = (
    (("a retired lighthouse keeper", "a young robot", "a shy baker", "a girl who collects old maps", "an old cat", "a night-shift bus driver"),
     ("finds a mysterious letter", "gets lost in a new city", "has to give a speech", "discovers a hidden garden", "makes an unlikely friend"),
     ("small harbor town", "busy city", "quiet village", "mountain station"),
     ("a brass key", "a faded photograph", "a paper lantern", "a pocket watch"),
     ("In the {place}, where the mornings smelled of rain, lived {name}, {who}.",
      "Nobody in the {place} paid much attention to {name}, {who}, until the day everything changed."),
     ("It all started on the day {name} {done}.",
      "One morning, {name} found {obj} that had not been there the night before.",
      "It came with a note that said only: 'Follow the lights.'",
      "{name} hesitated, because adventures were not part of the usual routine.",
      "But curiosity won, as it usually does.",
      "The trail led past the old market, over a narrow bridge and up a hill nobody ever climbed.",
      "Along the way, {name} met a child who seemed to know exactly where they were going.",
      "The two of them walked in silence for a while, listening to the wind.",
      "At the top of the hill stood a small shed, its door slightly open.",
      "Inside, shelves were filled with objects just like {obj}, each one labeled with a name.",
      "One of the labels, written in careful handwriting, said '{name}'.",
      "Suddenly {name} remembered a promise made many years ago and never kept.",
      "It was not too late, the child said, as long as the promise still mattered.",
      "So {name} made a plan, small and simple, the way the best plans are."),
     ("By evening, {name} was back home, but the {place} felt different, warmer somehow.",
      "From then on, whenever the lights came on in the {place}, {name} smiled and remembered.")),
    (("一位退休的灯塔看守人", "一个年轻的机器人", "一个害羞的面包师", "一个收集旧地图的女孩", "一只老猫", "一位夜班公交司机"),
     ("收到一封神秘的信", "在陌生的城市里迷了路", "不得不上台演讲", "发现了一座隐秘的花园", "交到了一个意想不到的朋友"),
     ("海边小镇", "繁忙的城市", "安静的村庄", "山间小站"),
     ("一把黄铜钥匙", "一张褪色的照片", "一盏纸灯笼", "一块怀表"),
     ("在{place}，清晨总带着雨水的气味，那里住着{name}——{who}。", "在{place}，没有人特别留意{name}——{who}，直到那一天。"),
     ("一切都要从{name}{done}的那天说起。", "一天早上，{name}发现了{obj}，前一晚它明明还不在那里。", "旁边还有一张纸条，上面只写着：“跟着灯光走。”",
      "{name}犹豫了一下，因为冒险从来不在日常安排里。", "但好奇心最终占了上风，它总是这样。",
      "小路经过旧市场，越过一座窄桥，通向一座从没人爬过的小山。", "路上，{name}遇到一个孩子，他似乎很清楚要去哪里。",
      "两人默默走了一会儿，听着风声。", "山顶上有一间小棚屋，门半开着。",
      "屋里的架子上摆满了和{obj}相似的东西，每一件都贴着一个名字。", "其中一张标签上，用工整的字写着“{name}”。",
      "{name}忽然想起多年前许下却一直没有兑现的一个承诺。", "孩子说，只要那个承诺还重要，就不算太晚。",
      "于是{name}定了一个计划，小而简单，就像所有最好的计划一样。"),
     ("傍晚，{name}回到家，可{place}似乎变得不一样了，好像更温暖了。", "从那以后，每当{place}的灯亮起，{name}都会微笑着想起那一天。")),
)
_STORY_PAST = ("found a mysterious letter", "got lost in a new city", "had to give a speech", "discovered a hidden garden",
               "made an unlikely friend")
_STORY_Q = (("Write a short story about {who} who {what}.", "Tell me a short story about {who} who {what}.", "Can you write a bedtime story about {who} who {what}?"),
            ("写一个短篇故事，讲{who}{what}。", "给我讲一个关于{who}{what}的小故事。", "能写一个睡前故事吗？讲的是{who}{what}的事。"))

# Function-calling specs (glaive-style system prompts).
_FUNCTIONS = (
    {"name": "get_weather", "description": "Get the current weather for a city",
     "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "The city name"}}, "required": ["city"]}},
    {"name": "convert_currency", "description": "Convert an amount from one currency to another",
     "parameters": {"type": "object", "properties": {"amount": {"type": "number", "description": "The amount to convert"},
                                                      "from_currency": {"type": "string", "description": "The currency code to convert from"},
                                                      "to_currency": {"type": "string", "description": "The currency code to convert to"}},
                    "required": ["amount", "from_currency", "to_currency"]}},
    {"name": "calculate_bmi", "description": "Calculate the body mass index",
     "parameters": {"type": "object", "properties": {"weight_kg": {"type": "number", "description": "Weight in kilograms"},
                                                      "height_m": {"type": "number", "description": "Height in meters"}},
                    "required": ["weight_kg", "height_m"]}},
    {"name": "get_stock_price", "description": "Get the latest price of a stock",
     "parameters": {"type": "object", "properties": {"symbol": {"type": "string", "description": "The stock ticker symbol"}}, "required": ["symbol"]}},
    {"name": "calculate_tip", "description": "Calculate the tip for a restaurant bill",
     "parameters": {"type": "object", "properties": {"bill_amount": {"type": "number", "description": "The total bill"},
                                                      "tip_percentage": {"type": "number", "description": "The tip percentage"}},
                    "required": ["bill_amount", "tip_percentage"]}},
)
_FUNC_ZH = {"get_weather": "查询某个城市的当前天气", "convert_currency": "把一种货币的金额换算成另一种货币",
            "calculate_bmi": "计算身体质量指数（BMI）", "get_stock_price": "查询股票的最新价格", "calculate_tip": "计算餐厅账单的小费"}
_FUNCTION_JSON = tuple(json.dumps(f, indent=4) for f in _FUNCTIONS)
_CITIES = (("Paris", "巴黎"), ("Tokyo", "东京"), ("Cairo", "开罗"), ("Toronto", "多伦多"), ("Sydney", "悉尼"), ("Hangzhou", "杭州"))
_OUT_OF_SCOPE = (("Can you book a flight from {a} to {b} for next Friday?", "Could you order a pizza to my address?",
                  "Please set an alarm for 6 a.m. tomorrow.", "Can you send a text message to my brother?"),
                 ("能帮我订一张下周五从{a}到{b}的机票吗？", "能帮我点一份披萨送到家吗？", "请帮我设一个明早 6 点的闹钟。", "能帮我给我哥哥发条短信吗？"))


def _ask_code(rng: random.Random, zh: int) -> tuple:
    task = _pick(rng, _CODE_TASKS)
    return task, _pick(rng, task[2])


def _code_reply(rng: random.Random, zh: int, task: tuple, fn: str, budget: int, bare: bool = False) -> str:
    lang, titles, _, code, notes, cplx, test = task
    block = f"```{lang}\n{code.format(fn=fn)}```"
    if bare:
        return block
    intro = _pick(rng, (("Here's a {L} function that {t}:", "Sure! Here is one way to do it in {L}:", "You can do it like this:"),
                        ("下面是一个{t}的 {L} 实现：", "当然可以，用 {L} 可以这样写：", "可以这样实现："))[zh])
    parts = [intro.format(L=_LANG_NAMES[lang], t=titles[zh]), block]
    size = len(parts[0]) + len(block)
    if size < budget:
        head = _pick(rng, (("How it works:", "**How it works**", "A few notes:"), ("代码说明：", "**工作原理**", "几点说明："))[zh])
        parts.append(head + "\n" + "\n".join(f"- {x}" for x in notes[zh]))
        size += len(parts[-1])
    if size < budget:
        parts.append(cplx[zh])
        size += len(cplx[zh])
    if test and size < budget:
        parts.append(_pick(rng, (("You can check it with a quick test:", "A couple of tests (pytest):"), ("可以用下面的测试验证：", "附几个测试（pytest）："))[zh])
                     + f"\n\n```python\n{test.format(fn=fn)}```")
        size += len(parts[-1])
    if test and size < budget:
        usage = _usage(test, fn, zh)
        if usage:
            parts.append(usage)
            size += len(usage)
    if size < budget:
        related = [t for t in _CODE_TASKS if t[0] == lang and t is not task]
        start = int(rng.random() * len(related)) if related else 0
        for j in range(len(related)):
            if size >= budget:
                break
            t = related[(start + j) % len(related)]
            fn2 = t[2][0]
            text = ((f"**相关写法**：如果还需要{t[1][zh]}，可以这样写：" if zh else f"**Related:** if you also need a function that {t[1][zh]}, here is one:")
                    + f"\n\n```{lang}\n{t[3].format(fn=fn2)}```\n\n" + "\n".join(f"- {x}" for x in t[4][zh]))
            parts.append(text)
            size += len(text)
    return "\n\n".join(parts)


def _usage(test: str, fn: str, zh: int) -> str:
    """Example calls derived from the test's ``assert f(x) == y`` lines."""
    lines = []
    for line in test.format(fn=fn).splitlines():
        line = line.strip()
        if line.startswith(f"assert {fn}(") and " == " in line:
            call, expected = line[len("assert "):].split(" == ", 1)
            lines.append(f">>> {call}\n{expected}")
        elif line.startswith(f"assert {fn}("):
            lines.append(f">>> {line[len('assert '):]}\nTrue")
        elif line.startswith(f"assert not {fn}("):
            lines.append(f">>> {line[len('assert not '):]}\nFalse")
    head = "用法示例：" if zh else "Example usage:"
    return head + "\n\n```python\n" + "\n".join(lines) + "\n```" if lines else ""


def _explain_reply(rng: random.Random, zh: int, c: tuple, budget: int, style: str = "plain") -> str:
    _, definition, points, example, analogy, pitfall = c[1 + zh]
    heads = _EXPLAIN_HEAD[zh]
    first = _pick(rng, _OPEN_LINES[zh]) + definition
    if style == "brief":
        return first + ("" if zh else " ") + points[0]
    parts = [first]
    size = len(first)
    bullet = "- " if rng.random() < 0.6 else "* "
    numbered = rng.random() < 0.3
    sections = ["points", "example", "analogy", "pitfall"]
    if rng.random() < 0.4:
        sections[1], sections[2] = sections[2], sections[1]
    for sec in sections:
        if size >= budget and sec != "points":
            break
        if sec == "points":
            k = len(points) if size + 300 < budget else 2
            pts = points[:k]
            lst = "\n".join((f"{i}. {p}" if numbered else bullet + p) for i, p in enumerate(pts, 1))
            text = _pick(rng, heads[0]) + "\n" + lst
        else:
            h = _pick(rng, heads[{"example": 1, "analogy": 2, "pitfall": 3}[sec]])
            body = {"example": example, "analogy": analogy, "pitfall": pitfall}[sec]
            text = h + ("\n" if h[0] in "#*" or rng.random() < 0.5 else ("" if zh else " ")) + body
        parts.append(text)
        size += len(text)
        if style == "bullets" and sec == "points":
            break
    if size < budget:
        others = [o for o in _CONCEPTS if o is not c and o[0] == c[0]]
        start = int(rng.random() * len(others))
        for j in range(len(others)):
            if size >= budget:
                break
            o = others[(start + j) % len(others)][1 + zh]
            sp = "" if zh else " "
            text = _pick(rng, heads[4]).format(t=o[0]) + "\n" + o[1] + sp + o[3]
            if size + 2 * len(text) < budget:
                h = _pick(rng, heads[2])
                text += "\n" + "\n".join(bullet + p for p in o[2]) + "\n\n" + h + ("\n" if zh or h[0] in "#*" else " ") + o[4]
            parts.append(text)
            size += len(text)
    close = _pick(rng, _CLOSE_LINES[zh])
    if style == "question":
        close = _pick(rng, _QUESTION_TAILS[zh])
    if close:
        parts.append(close)
    return "\n\n".join(parts)


def _math_reply(rng: random.Random, zh: int, pb: _Prob, budget: int, mode: str, fam: Callable | None = None) -> str:
    if mode == "ultra":
        body = "\n".join((f"第{i}步：{s}" if zh else f"Step {i}: {s}") for i, s in enumerate(pb.steps, 1))
        parts = [body]
    else:
        intro = _pick(rng, (("Let's solve it step by step.", "Here's how to approach it.", ""), ("我们一步一步来解。", "思路如下。", ""))[zh])
        steps = ("\n".join(f"{i}. {s}" for i, s in enumerate(pb.steps, 1)) if rng.random() < 0.5
                 else ("" if zh else " ").join(pb.steps))
        parts = [intro, steps] if intro else [steps]
    size = sum(map(len, parts))
    if pb.checks and size < budget:
        parts.append(pb.checks[0])
        size += len(pb.checks[0])
    if pb.alt and size < budget:
        parts.append(pb.alt[0])
        size += len(parts[-1])
    if size < budget:
        checks = []
        for op in pb.ops:
            if _usable(op):
                checks.append(_pick(rng, _verify_variants(op, zh, "×")))
                if len(checks) == 4:
                    break
        if checks:
            parts.append(("**验算**\n" if zh else "**Double-checking the arithmetic**\n") + "\n".join(f"- {c}" for c in checks))
            size += len(parts[-1])
    if mode == "ultra":
        parts.append(("答案：\n\\boxed{" if zh else "Answer:\n\\boxed{") + pb.answer + "}")
        return "\n\n".join(parts)
    parts.append(_pick(rng, (("So the answer is \\({a}\\).", "Therefore, the answer is \\({a}\\).", "The final answer is \\(\\boxed{{{a}}}\\)."),
                              ("所以答案是 \\({a}\\)。", "因此答案为 \\({a}\\)。", "最终答案是 \\(\\boxed{{{a}}}\\)。"))[zh]).format(a=pb.answer))
    extra = 0
    while size < budget and extra < 4 and fam is not None:
        if not extra:
            parts.append("想练习的话，可以试试这些类似的题目：" if zh else "Want to practice? Here are some similar problems:")
        new = fam(rng, zh)
        extra += 1
        text = ((f"**练习 {extra}**：{new.problem}\n\n" if zh else f"**Practice problem {extra}.** {new.problem}\n\n")
                + ("" if zh else " ").join(new.steps) + ("答案：" if zh else " Answer: ") + f"\\({new.answer}\\)" + ("。" if zh else "."))
        parts.append(text)
        size += len(text)
    return "\n\n".join(parts)


def _advice_reply(rng: random.Random, zh: int, topic: tuple, budget: int, start: int = 0) -> tuple[str, int]:
    tips = topic[2]
    intro = _pick(rng, (("Here are some practical tips:", "A few things that really help:", "Good goal! Try these:"),
                        ("下面是一些实用的建议：", "这些方法很有帮助：", "好目标！可以试试这些："))[zh])
    parts, size, used = [intro], len(intro), start
    lines = []
    for i in range(start, len(tips)):
        if size >= budget and used - start >= 3:
            break
        lines.append(f"{len(lines) + 1}. {tips[i][zh]}")
        size += len(lines[-1])
        used += 1
    parts.append("\n".join(lines))
    if size < budget and used - start >= 3:
        plan = [(f"第 {w} 周：{tips[start + w - 1][zh]}" if zh else f"Week {w}: {tips[start + w - 1][zh]}") for w in range(1, used - start + 1)]
        parts.append(("**一个简单的计划**：每周只加一个新习惯。\n" if zh else "**A simple plan:** add one new habit per week.\n") + "\n".join(plan))
        size += len(parts[-1])
    if size < budget:
        parts.append(_pick(rng, (("Start with one or two of these and add more once they feel natural.", "Small, consistent steps beat big bursts of effort."),
                                  ("先从其中一两条开始，习惯之后再增加。", "小而持续的行动，胜过一时的猛冲。"))[zh]))
    return "\n\n".join(parts), used


def _email(rng: random.Random, zh: int, budget: int) -> tuple[str, str, tuple]:
    kind = _pick(rng, _EMAILS)
    slots = {"boss": _pick(rng, _NAMES[zh]), "peer": _pick(rng, _NAMES[zh]), "me": _pick(rng, _NAMES[zh]),
             "day": _pick(rng, _DAYS[zh]), "role": _pick(rng, _ROLES[zh]), "company": _pick(rng, _COMPANIES),
             "order": f"#{_ri(rng, 10000, 99999)}", "late": _ri(rng, 3, 15), "thing": _pick(rng, _THINGS[zh])}
    ask = kind[zh].format(**slots)
    subject, greet, body, close = kind[2 + zh]
    sentences = []
    size = 0
    for i, s in enumerate(body):
        if i >= 2 and size >= budget:
            break
        sentences.append(s.format(**slots))
        size += len(sentences[-1])
    joiner = "" if zh else " "
    if len(sentences) > 3:
        paras = [joiner.join(sentences[:2]), joiner.join(sentences[2:])]
    else:
        paras = [joiner.join(sentences)]
    subj = ("主题：" if zh else "Subject: ") + subject.format(**slots)
    text = subj + "\n\n" + greet.format(**slots) + "\n\n" + "\n\n".join(paras) + "\n\n" + close.format(**slots)
    if len(text) < budget:
        text = _pick(rng, (("Here's a draft you can adapt:", "Sure, here is an email you could send:"), ("下面是一份可以参考的草稿：", "好的，可以这样写："))[zh]) + "\n\n" + text
        tips = _EMAIL_TIPS[zh]
        k = min(len(tips), max(2, (budget - len(text)) // (60 if not zh else 25)))
        text += "\n\n" + ("发送前的几点建议：" if zh else "A few tips before you send it:") + "\n" + "\n".join(f"- {t}" for t in tips[:k])
    return ask, text, (subj, greet.format(**slots), sentences, close.format(**slots))


def _story(rng: random.Random, zh: int, budget: int) -> tuple[str, str, tuple]:
    who_l, what_l, place_l, obj_l, opens, middle, ends = _STORY[zh]
    who, what, place, obj = _pick(rng, who_l), _pick(rng, what_l), _pick(rng, place_l), _pick(rng, obj_l)
    name = _pick(rng, _NAMES[zh])
    ask = _pick(rng, _STORY_Q[zh]).format(who=who, what=what)
    done = what if zh else _STORY_PAST[what_l.index(what)]
    slots = {"name": name, "who": who, "place": place, "obj": obj, "done": done}
    sents = [_pick(rng, opens).format(**slots)]
    size = len(sents[0])
    n_mid = 0
    for s in middle:
        if n_mid >= 3 and size >= budget:
            break
        sents.append(s.format(**slots))
        size += len(sents[-1])
        n_mid += 1
    sents += [e.format(**slots) for e in ends]
    joiner = "" if zh else " "
    paras, cur = [], []
    for s in sents:
        cur.append(s)
        if len(cur) >= 3 and rng.random() < 0.5:
            paras.append(joiner.join(cur))
            cur = []
    if cur:
        paras.append(joiner.join(cur))
    title = (f"**《{obj[2:]}》**" if zh else f"**The {obj.split(' ', 1)[1].title()}**")
    return ask, title + "\n\n" + "\n\n".join(paras), (title, sents)


def _logic(rng: random.Random, zh: int) -> tuple[str, str, str]:
    kind = rng.random()
    if kind < 0.5:
        k = _ri(rng, 3, 5)
        names = []
        while len(names) < k:
            nm = _pick(rng, _NAMES[zh])
            if nm not in names:
                names.append(nm)
        attr = _pick(rng, (("taller than", "shorter than", "tallest", "shortest", "高", "矮", "最高", "最矮"),
                           ("older than", "younger than", "oldest", "youngest", "年龄大", "年龄小", "年龄最大", "年龄最小")))
        order = names[:]  # order[0] is the 'most'
        clues = []
        for i in range(k - 1):
            a, b = order[i], order[i + 1]
            if rng.random() < 0.5:
                clues.append(f"{a}比{b}{attr[4]}。" if zh else f"{a} is {attr[0]} {b}.")
            else:
                clues.append(f"{b}比{a}{attr[5]}。" if zh else f"{b} is {attr[1]} {a}.")
        shown = clues[:]
        rng.shuffle(shown)
        most = rng.random() < 0.5
        ans = order[0] if most else order[-1]
        if zh:
            q = f"{'、'.join(sorted(names))}几个人中：" + "".join(shown) + f"谁{attr[6] if most else attr[7]}？"
            chain = " > ".join(order)
            a = (f"把每条线索都写成“前者{attr[4]}于后者”的形式：" + "；".join(f"{order[i]} > {order[i + 1]}" for i in range(k - 1)) +
                 f"。\n\n把它们连起来得到完整顺序：{chain}。\n\n所以{attr[6] if most else attr[7]}的是{ans}。")
        else:
            q = f"Among {', '.join(sorted(names))}: " + " ".join(shown) + f" Who is the {attr[2] if most else attr[3]}?"
            chain = " > ".join(order)
            a = (f"Rewrite every clue in the form 'X is {attr[0]} Y': " + "; ".join(f"{order[i]} > {order[i + 1]}" for i in range(k - 1)) +
                 f".\n\nChaining them gives the full order: {chain}.\n\nSo the {attr[2] if most else attr[3]} is {ans}.")
        return q, a, ans
    if kind < 0.8:
        days = (("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
                ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"))[zh]
        d, n = _ri(rng, 0, 6), _ri(rng, 10, 1000)
        r = n % 7
        res = days[(d + r) % 7]
        if zh:
            q = f"今天是{days[d]}，{n}天后是星期几？"
            a = f"一周有 7 天，所以只需看 {n} 除以 7 的余数：\\({n} = 7 \\times {n // 7} + {r}\\)。\n\n从{days[d]}往后数 {r} 天，就是{res}。"
        else:
            q = f"Today is {days[d]}. What day of the week will it be {n} days from now?"
            a = f"The days repeat every 7, so only the remainder of {n} divided by 7 matters: \\({n} = 7 \\times {n // 7} + {r}\\).\n\nCounting {r} days forward from {days[d]} lands on {res}."
        return q, a, res
    cents_diff = 10 * _ri(rng, 5, 40)
    small = 5 * _ri(rng, 1, 30)
    total = 2 * small + cents_diff
    item = _pick(rng, (("a notebook", "a pen", "笔记本", "笔"), ("a racket", "a shuttlecock", "球拍", "羽毛球"), ("a sandwich", "a juice", "三明治", "果汁")))
    T, D, S = Fraction(total, 100), Fraction(cents_diff, 100), Fraction(small, 100)
    if zh:
        q = f"{item[2]}和{item[3]}一共 {_dec(T)} 元，{item[2]}比{item[3]}贵 {_dec(D)} 元。{item[3]}多少钱？"
        a = (f"很多人会直接回答 {_dec(T - D)} 元，但这样{item[2]}就是 {_dec(T)} 元，总价会变成 {_dec(2 * T - D)} 元，不对。\n\n"
             f"设{item[3]} \\(x\\) 元，则 \\(x + (x + {_dec(D)}) = {_dec(T)}\\)，解得 \\(x = {_dec(S)}\\)。\n\n所以{item[3]} {_dec(S)} 元，{item[2]} {_dec(S + D)} 元。")
    else:
        q = f"{item[0].capitalize()} and {item[1]} cost {_dec(T)} dollars in total. {item[0].capitalize()} costs {_dec(D)} dollars more than {item[1]}. How much does {item[1]} cost?"
        a = (f"The quick answer {_dec(T - D)} is wrong: then the other item would cost {_dec(T)} and the total would be {_dec(2 * T - D)}.\n\n"
             f"Let \\(x\\) be the price of {item[1]}. Then \\(x + (x + {_dec(D)}) = {_dec(T)}\\), so \\(2x = {_dec(T - D)}\\) and \\(x = {_dec(S)}\\).\n\n"
             f"So {item[1]} costs {_dec(S)} dollars and {item[0]} costs {_dec(S + D)} dollars.")
    return q, a, _dec(S)


def _function_call(rng: random.Random, zh: int) -> list[tuple[str, str]]:
    spec = _pick(rng, _FUNCTIONS)
    specs = [spec]
    if rng.random() < 0.35:
        extra = _pick(rng, _FUNCTIONS)
        if extra is not spec:
            specs.append(extra)
    sysmsg = ("你是一个乐于助人的助手，可以调用以下函数。如有需要请使用 -\n" if zh else
              "You are a helpful assistant with access to the following functions. Use them if required -\n") + "\n".join(_FUNCTION_JSON[_FUNCTIONS.index(x)] for x in specs)
    turns = [("system", sysmsg)]
    name = spec["name"]
    r = rng.random()
    city = _pick(rng, _CITIES)
    if r < 0.25:
        other = _pick(rng, _CITIES)
        turns.append(("human", _pick(rng, _OUT_OF_SCOPE[zh]).format(a=city[zh], b=other[zh])))
        if zh:
            can = "和".join(_FUNC_ZH[x["name"]] for x in specs)
            reply = f"抱歉，我无法完成这个请求。我目前能使用的功能只有：{can}。还有其他可以帮你的吗？"
        else:
            can = " and ".join(x["description"][0].lower() + x["description"][1:] for x in specs)
            only = "The only function I have access to lets me" if len(specs) == 1 else "The functions I have access to only let me"
            reply = f"I'm sorry, but I can't help with that. {only} {can}. Is there anything else I can do for you?"
        turns.append(("gpt", reply))
        return turns
    if name == "get_weather":
        args = {"city": city[0]}
        ask_full = (f"{city[1]}现在天气怎么样？" if zh else f"What's the weather like in {city[0]} right now?")
        ask_part, clarify, supply = (("现在外面天气怎么样？", "请问你想查询哪个城市的天气？", f"{city[1]}。") if zh else
                                     ("What's the weather like right now?", "Sure, which city would you like the weather for?", f"{city[0]}, please."))
    elif name == "convert_currency":
        amt = _ri(rng, 2, 200) * 10
        pair = _pick(rng, (("USD", "EUR"), ("CNY", "JPY"), ("GBP", "USD"), ("EUR", "CNY")))
        args = {"amount": amt, "from_currency": pair[0], "to_currency": pair[1]}
        ask_full = f"帮我把 {amt} {pair[0]} 换算成 {pair[1]}。" if zh else f"Can you convert {amt} {pair[0]} to {pair[1]}?"
        ask_part, clarify, supply = ((f"我想把一些 {pair[0]} 换成 {pair[1]}。", "好的，你想换算多少金额？", f"{amt} {pair[0]}。") if zh else
                                     (f"I need to convert some {pair[0]} to {pair[1]}.", "Sure, how much would you like to convert?", f"{amt} {pair[0]}."))
    elif name == "calculate_bmi":
        w, h = _ri(rng, 45, 110), _ri(rng, 150, 195)
        args = {"weight_kg": w, "height_m": h / 100}
        ask_full = f"我体重 {w} 公斤，身高 {h / 100} 米，帮我算一下 BMI。" if zh else f"I weigh {w} kg and I'm {h / 100} m tall. What's my BMI?"
        ask_part, clarify, supply = (("帮我算一下 BMI。", "好的，请告诉我你的体重（公斤）和身高（米）。", f"体重 {w} 公斤，身高 {h / 100} 米。") if zh else
                                     ("Can you calculate my BMI?", "Of course. What are your weight in kilograms and height in meters?", f"{w} kg and {h / 100} m."))
    elif name == "get_stock_price":
        sym = _pick(rng, ("AAPL", "MSFT", "NVDA", "TSLA", "AMZN"))
        args = {"symbol": sym}
        ask_full = f"{sym} 现在的股价是多少？" if zh else f"What's the current price of {sym}?"
        ask_part, clarify, supply = (("帮我查一只股票的价格。", "好的，请告诉我股票代码。", f"{sym}。") if zh else
                                     ("Can you check a stock price for me?", "Sure, which ticker symbol?", f"{sym}."))
    else:
        bill, pct = _ri(rng, 20, 300), _pick(rng, (10, 15, 18, 20))
        args = {"bill_amount": bill, "tip_percentage": pct}
        ask_full = f"账单 {bill} 元，按 {pct}% 给小费要多少？" if zh else f"My bill is {bill} and I want to tip {pct}%. How much is the tip?"
        ask_part, clarify, supply = ((f"我想按 {pct}% 给小费。", "好的，账单总额是多少？", f"{bill}。") if zh else
                                     (f"I want to leave a {pct}% tip.", "Sure, what is the total bill?", f"It's {bill}."))
    call = "<functioncall> " + json.dumps({"name": name, "arguments": args}, ensure_ascii=False)
    if r < 0.6:
        turns += [("human", ask_full), ("gpt", call)]
    else:
        turns += [("human", ask_part), ("gpt", clarify), ("human", supply), ("gpt", call)]
    return turns


_SOURCES = ("infini-instruct-top-500k", "WebInstructSub_axolotl", "ultrainteract_trajectories_sharegpt",
            "self-instruct-sharegpt", "glaive-function-calling-v2-sharegpt", "reasoning-sharegpt", "airoboros-3.2",
            "systemchat-2.0-sharegpt", "financial-instructions-cleaned-2")
_SOURCE_CUM = _cumulative((42540, 23747, 16854, 5223, 3375, 3318, 2046, 1593, 1304))
# Which kinds of request each source contributes: (kind, weight)
_SOURCE_KINDS = {
    "infini-instruct-top-500k": (("explain", 35), ("code", 20), ("write", 15), ("math", 15), ("advice", 10), ("translate", 5)),
    "WebInstructSub_axolotl": (("explain_sci", 50), ("math", 50)),
    "ultrainteract_trajectories_sharegpt": (("math_ultra", 60), ("code_ultra", 40)),
    "self-instruct-sharegpt": (("code", 100),),
    "glaive-function-calling-v2-sharegpt": (("function", 100),),
    "reasoning-sharegpt": (("logic", 100),),
    "airoboros-3.2": (("write", 70), ("explain", 30)),
    "systemchat-2.0-sharegpt": (("persona", 100),),
    "financial-instructions-cleaned-2": (("finance", 100),),
}
_SOURCE_KIND_TABLE = {s: (tuple(k for k, _ in v), _cumulative([w for _, w in v])) for s, v in _SOURCE_KINDS.items()}
_EXCHANGES_CUM = _cumulative((0.75, 0.12, 0.08, 0.05))
_ULTRA_PROMPT = ("Solve the following math problem step-by-step.\nSimplify your answer as much as possible. Present your final answer as \\boxed{Your Answer}.\n",
                 "请一步一步解答下面的数学题。\n答案尽量化简，并把最终答案写成 \\boxed{你的答案} 的形式。\n")
_THANKS = (("Thanks, that's helpful!", "Great, thank you.", "Perfect, thanks!", "That makes sense now, thanks."),
           ("谢谢，很有帮助！", "太好了，谢谢。", "明白了，多谢！", "好的，谢谢你。"))
_WELCOME = (("You're welcome! Feel free to come back if you have more questions.", "Glad it helped! Good luck.", "Happy to help. Let me know if anything else comes up."),
            ("不客气！有其他问题随时来问。", "很高兴能帮上忙，祝你顺利！", "不用谢，有需要再找我。"))
_SCI = tuple(c for c in _CONCEPTS if c[0] != "finance")
_FIN = tuple(c for c in _CONCEPTS if c[0] == "finance")
_FIN_MATH = (_f_interest, _f_discount, _f_percent_change)


class _Conv:
    """One conversation being built: its turns and what later follow-ups can refer to."""

    __slots__ = ("zh", "turns", "kind", "ctx", "used")

    def __init__(self, zh: int, kind: str) -> None:
        self.zh, self.kind, self.turns, self.ctx, self.used = zh, kind, [], {}, set()

    def add(self, human: str, gpt: str) -> None:
        self.turns.append(("human", human))
        self.turns.append(("gpt", gpt))
        self._covered(gpt)

    def _covered(self, text: str) -> None:
        """Mark the follow-ups whose answer ``text`` already contains, so none is repeated."""
        ctx, zh, used = self.ctx, self.zh, self.used
        if "concept" in ctx:
            _, _, _, example, analogy, pitfall = ctx["concept"][1 + zh]
            if example in text:
                used.add("example")
            if analogy in text:
                used.add("simpler")
            if pitfall in text:
                used.add("pitfall")
        if "pb" in ctx:
            pb = ctx["pb"]
            if pb.checks and pb.checks[0] in text:
                used.add("check")
            if pb.alt and pb.alt[0] in text:
                used.add("alt")
        if "task" in ctx:
            task, fn = ctx["task"], ctx["fn"]
            if task[6] and task[6].format(fn=fn) in text:
                used.add("tests")
            if ">>> " in text:
                used.add("usage")
            if task[5][zh] in text:
                used.add("complexity")
            if task[4][zh][0] in text:
                used.add("explain")


def _first(rng: random.Random, cv: _Conv, budget: int) -> None:
    zh, kind = cv.zh, cv.kind
    if kind in ("explain", "explain_sci", "persona", "finance") and not (kind == "finance" and rng.random() < 0.4):
        pool = _SCI if kind == "explain_sci" else (_FIN if kind == "finance" else _CONCEPTS)
        c = _pick(rng, pool)
        cv.ctx["concept"] = c
        style = cv.ctx.get("style", "plain")
        cv.add(_pick(rng, _ASK_CONTEXT[zh]) + _pick(rng, _EXPLAIN_Q[zh]).format(t=c[1 + zh][0]), _explain_reply(rng, zh, c, budget, style))
        return
    if kind in ("math", "math_ultra", "finance"):
        fam = _pick(rng, _FIN_MATH) if kind == "finance" else _pick(rng, _FAMILIES)
        pb = fam(rng, zh)
        cv.ctx["pb"], cv.ctx["fam"] = pb, fam
        q = (_ULTRA_PROMPT[zh] + pb.problem) if kind == "math_ultra" else pb.problem
        cv.add(q, _math_reply(rng, zh, pb, budget, "ultra" if kind == "math_ultra" else "plain", fam))
        return
    if kind in ("code", "code_ultra"):
        task, fn = _ask_code(rng, zh)
        cv.ctx["task"], cv.ctx["fn"] = task, fn
        lang = _LANG_NAMES[task[0]]
        if kind == "code_ultra":
            q = (f"写 Python 代码完成下面的任务：\n编写函数 `{fn}`，{task[1][zh]}。" if zh else
                 f"Write Python code to solve the task:\nWrite a function `{fn}` that {task[1][zh]}.")
            if task[0] != "python":
                q = _pick(rng, _CODE_ASK[zh]).format(lang=lang, title=task[1][zh], fn=fn)
        else:
            q = _pick(rng, _CODE_CONTEXT[zh]) + _pick(rng, _CODE_ASK[zh]).format(lang=lang, title=task[1][zh], fn=fn)
        cv.add(q, _code_reply(rng, zh, task, fn, budget))
        return
    if kind == "write":
        if rng.random() < 0.5:
            q, a, ctx = _email(rng, zh, budget)
            cv.ctx["email"] = ctx
        else:
            q, a, ctx = _story(rng, zh, budget)
            cv.ctx["story"] = ctx
        cv.add(q, a)
        return
    if kind == "advice":
        topic = _pick(rng, _ADVICE)
        text, used = _advice_reply(rng, zh, topic, budget)
        cv.ctx["advice"], cv.ctx["advice_used"] = topic, used
        cv.add(_pick(rng, _ASK_CONTEXT[zh][:5] + _ASK_CONTEXT[zh][11:13]) + _pick(rng, _ADVICE_Q[zh]).format(t=topic[1] if zh else topic[0]), text)
        return
    if kind == "translate":
        cv.add(*_translate(rng, zh, budget))
        return
    q, a, ans = _logic(rng, zh)
    cv.ctx["logic"] = ans
    cv.add(q, a)


def _translate(rng: random.Random, zh: int, budget: int) -> tuple[str, str]:
    k = max(1, min(20, budget // (40 if zh else 90)))
    k = 1 + int(rng.random() * k)
    start = int(rng.random() * len(_PAIRS))
    chosen = [_PAIRS[(start + 7 * i) % len(_PAIRS)] for i in range(k)]
    src = ("" if zh else " ").join(p[zh] for p in chosen)
    dst = ("" if not zh else " ").join(p[1 - zh] for p in chosen)
    return _pick(rng, _TRANSLATE_Q[zh]).format(src=src), _pick(rng, _TRANSLATE_A[zh]).format(dst=dst)


def _follow(rng: random.Random, cv: _Conv, budget: int, last: bool) -> None:
    zh, ctx = cv.zh, cv.ctx
    if last and rng.random() < 0.2:
        cv.add(_pick(rng, _THANKS[zh]), _pick(rng, _WELCOME[zh]))
        return
    if "concept" in ctx:
        c = ctx["concept"]
        title, definition, points, example, analogy, pitfall = c[1 + zh]
        opts = [o for o in ("example", "simpler", "pitfall", "summary", "other") if o not in cv.used]
        o = _pick(rng, opts or ["other"])
        cv.used.add(o)
        if o == "example":
            cv.add(_pick(rng, (("Can you give me another example?", "Do you have a real-world example?"), ("能再举一个例子吗？", "有生活中的例子吗？"))[zh]),
                   (("当然。" if zh else "Sure. ") + example + ("" if zh else " ") + analogy))
        elif o == "simpler":
            cv.add(_pick(rng, (("Can you explain it even more simply?", "I'm still a bit lost. Simpler, please?"), ("能说得再简单一点吗？", "还是有点不懂，能更通俗些吗？"))[zh]),
                   (("换个说法：" if zh else "Put simply: ") + analogy + ("" if zh else " ") + points[0]))
        elif o == "pitfall":
            cv.add(_pick(rng, (("What do people usually get wrong about it?", "Is there a common misconception?"), ("大家对它常有什么误解？", "有没有常见的误区？"))[zh]),
                   pitfall + ("" if zh else " ") + (("记住这一点，很多困惑就迎刃而解了。") if zh else "Keeping that in mind clears up a lot of confusion."))
        elif o == "summary":
            cv.add(_pick(rng, (("Can you sum it up in one sentence?", "What's the one-line version?"), ("能用一句话总结吗？", "一句话概括一下？"))[zh]),
                   ("一句话概括：" if zh else "In one sentence: ") + definition)
        else:
            other = _pick(rng, _CONCEPTS)
            while other is c:
                other = _pick(rng, _CONCEPTS)
            ctx["concept"] = other
            cv.used.clear()
            t = other[1 + zh][0]
            cv.add(_pick(rng, (("Thanks! Now, what about {t}?", "Got it. Could you also explain {t}?"), ("明白了。那{t}呢？", "谢谢！能再讲讲{t}吗？"))[zh]).format(t=t),
                   _explain_reply(rng, zh, other, budget))
        return
    if "pb" in ctx:
        pb = ctx["pb"]
        opts = [o for o in ("check", "alt", "similar") if o not in cv.used]
        o = _pick(rng, opts or ["similar"])
        cv.used.add(o)
        if o == "check" and pb.checks:
            cv.add(_pick(rng, (("How can I check that answer?", "How do I know it's right?"), ("怎么检验这个答案？", "怎么知道答案是对的？"))[zh]), pb.checks[0])
        elif o == "alt" and pb.alt:
            cv.add(_pick(rng, (("Is there another way to solve it?", "Could you show a different method?"), ("还有别的解法吗？", "能换一种方法吗？"))[zh]), pb.alt[0])
        else:
            new = ctx["fam"](rng, zh)
            ctx["pb"] = new
            cv.used.clear()
            cv.add(_pick(rng, (("Can you give me a similar problem to practice, with the solution?", "Give me another one like this, please."),
                               ("能再出一道类似的题并给出解答吗？", "再来一道类似的题吧。"))[zh]),
                   (("好的，试试这道：\n\n" if zh else "Sure, try this one:\n\n") + new.problem + "\n\n" + ("**解答**\n\n" if zh else "**Solution**\n\n")
                    + _math_reply(rng, zh, new, budget, "plain", ctx["fam"])))
        return
    if "task" in ctx:
        task, fn = ctx["task"], ctx["fn"]
        lang, _, _, _, notes, cplx, test = task
        opts = [o for o in (("tests", "usage") if test and _usage(test, fn, zh) else ()) + ("complexity", "explain") if o not in cv.used]
        o = _pick(rng, opts or ["related"])
        cv.used.add(o)
        if o == "related":
            others = [t for t in _CODE_TASKS if t[0] == lang and t is not task] or [t for t in _CODE_TASKS if t is not task]
            new = _pick(rng, others)
            fn2 = _pick(rng, new[2])
            ctx["task"], ctx["fn"] = new, fn2
            cv.used.clear()
            cv.add(_pick(rng, (("Thanks! One more: how would I write a function that {t}?", "Great. Could you also show code that {t}?"),
                               ("谢谢！再问一个：怎样写一个函数来{t}？", "好的。能再写一段代码来{t}吗？"))[zh]).format(t=new[1][zh]),
                   _code_reply(rng, zh, new, fn2, budget))
        elif o == "tests":
            cv.add(_pick(rng, (("Can you add some tests?", "How would I test this with pytest?"), ("能加几个测试吗？", "怎么用 pytest 测试它？"))[zh]),
                   ("可以这样写测试：" if zh else "Here are a few pytest tests:") + f"\n\n```python\n{test.format(fn=fn)}```")
        elif o == "usage":
            cv.add(_pick(rng, (("Can you show how to call it?", "What does it return for a few inputs?"), ("能演示一下怎么调用吗？", "几个输入分别会返回什么？"))[zh]),
                   _usage(test, fn, zh))
        elif o == "complexity":
            cv.add(_pick(rng, (("What's the time complexity?", "Is this efficient for large inputs?"), ("时间复杂度是多少？", "处理大数据时效率怎么样？"))[zh]), cplx[zh])
        else:
            cv.add(_pick(rng, (("Can you explain how it works, step by step?", "Could you walk me through the code?"), ("能一步一步解释一下代码吗？", "能讲讲这段代码的思路吗？"))[zh]),
                   "\n".join(f"{i}. {x}" for i, x in enumerate(notes[zh], 1)))
        return
    if "advice" in ctx:
        topic, used = ctx["advice"], ctx["advice_used"]
        if used < len(topic[2]) and "more" not in cv.used:
            cv.used.add("more")
            text, used2 = _advice_reply(rng, zh, topic, budget, start=used)
            ctx["advice_used"] = used2
            cv.add(_pick(rng, (("Any more tips?", "What else can I do?"), ("还有别的建议吗？", "还能做些什么？"))[zh]), text)
        elif "which" in cv.used:
            cv.add(_pick(rng, _THANKS[zh]), _pick(rng, _WELCOME[zh]))
        else:
            cv.used.add("which")
            tip = topic[2][int(rng.random() * min(used, len(topic[2])))][zh]
            cv.add(_pick(rng, (("Which one should I start with?", "If I can only do one, which?"), ("应该先从哪一条开始？", "如果只能做一件事，选哪个？"))[zh]),
                   (f"我建议先从这一条开始：{tip}它最容易上手，做到之后其他几条也会更容易。" if zh else
                    f"I'd start with this one: {tip} It is the easiest to begin, and once it sticks, the others get easier too."))
        return
    if "email" in ctx:
        subj, greet, sents, close = ctx["email"]
        joiner = "" if zh else " "
        if "shorter" not in cv.used and len(sents) > 2:
            cv.used.add("shorter")
            cv.add(_pick(rng, (("Can you make it shorter?", "That's a bit long. A shorter version?"), ("能写得短一点吗？", "有点长，能精简一下吗？"))[zh]),
                   f"{subj}\n\n{greet}\n\n{joiner.join(sents[:2])}\n\n{close}")
        elif "tips" not in cv.used and _EMAIL_TIPS[zh][0] not in cv.turns[1][1]:
            cv.used.add("tips")
            cv.add(_pick(rng, (("Any tips before I send it?", "Anything I should check before sending?"), ("发送前有什么要注意的吗？", "发之前我该检查些什么？"))[zh]),
                   "\n".join(f"- {t}" for t in _EMAIL_TIPS[zh][:4]))
        else:
            cv.add(_pick(rng, _THANKS[zh]), _pick(rng, _WELCOME[zh]))
        return
    if "story" in ctx:
        title, sents = ctx["story"]
        if "title" not in cv.used:
            cv.used.add("title")
            cv.add(_pick(rng, (("What would you call this story?", "Give it a title?"), ("这个故事叫什么名字好？", "起个标题吧？"))[zh]),
                   (f"可以叫{title}。" if zh else f"I'd call it {title}."))
        else:
            cv.add(_pick(rng, (("Can you summarize it in two sentences?", "Short summary?"), ("能用两句话概括一下吗？", "简短概括一下？"))[zh]),
                   ("" if zh else " ").join((sents[0], sents[-1])))
        return
    if "logic" in ctx:
        if "confirm" in cv.used:
            cv.add(_pick(rng, _THANKS[zh]), _pick(rng, _WELCOME[zh]))
            return
        cv.used.add("confirm")
        cv.add(_pick(rng, (("So the answer is {a}?", "Just to confirm, it's {a}?"), ("所以答案是{a}？", "确认一下，是{a}吗？"))[zh]).format(a=ctx["logic"]),
               (f"对，是{ctx['logic']}。按照上面的推理，每一步都由题目给出的条件直接得出。" if zh else
                f"Yes, {ctx['logic']}. Each step above follows directly from the given conditions."))
        return
    cv.add(*_translate(rng, zh, budget))


def _score(rng: random.Random) -> float:
    """A fineweb-edu classifier score: 3.7357 plus a right-skewed part (median 0.177, mean ~0.23),
    capped at 5.2126, rounded to float32 like the real column."""
    v = min(3.7357 + math.exp(rng.gauss(-1.732, 0.724)), 5.2126)
    return struct.unpack("<f", struct.pack("<f", v))[0]


def synth_chat(n: int, *, seed: int = 3407, scale: str = "full") -> list[dict]:
    """``n`` rows in the schema of ``mlabonne/FineTome-100k``.

    Each row is ``{"conversations": [{"from": ..., "value": ...}, ...], "source": str,
    "score": float}``. Roles are ``human`` and ``gpt``, alternating and starting with
    ``human``; some rows open with a ``system`` turn (function-calling and persona rows
    always do). Rows have 1-4 exchanges (mostly one), about half are in Chinese, and sources
    follow the real set's proportions. The same ``seed`` and ``scale`` always give the same
    rows, and a shorter call returns a prefix of a longer one. ``scale="full"`` gives the
    real set's lengths (median ~430 tokens, long tail); ``scale="small"`` gives short rows.

    Introduced in 03_dataset_cleaning.
    """
    _check_args(n, scale)
    with _gc_paused():
        return _chat_rows(n, seed, scale == "full")


def _chat_rows(n: int, seed: int, full: bool) -> list[dict]:
    rng = random.Random(f"qwen3lab/finetome/{'full' if full else 'small'}/{seed}")
    rows: list[dict] = []
    for _ in range(n):
        zh = 1 if rng.random() < 0.5 else 0
        source = _weighted(rng, _SOURCES, _SOURCE_CUM)
        kinds, cum = _SOURCE_KIND_TABLE[source]
        kind = _weighted(rng, kinds, cum)
        tokens = _lognormal_int(rng, 640, 0.95, 40, 7000) if full else _lognormal_int(rng, 110, 0.45, 40, 300)
        budget = int(tokens * _CPT_CHAT[zh] * 0.85)
        if kind == "function":
            turns = _function_call(rng, zh)
        else:
            cv = _Conv(zh, kind)
            system = None
            if kind == "persona":
                prompt, style = _pick(rng, _PERSONAS[zh])
                system, cv.ctx["style"] = prompt, style
                if style == "brief":
                    budget = min(budget, 400 if not zh else 160)
            elif rng.random() < 0.04:
                system = _pick(rng, _GENERIC_SYSTEM[zh])
            n_ex = _weighted(rng, (1, 2, 3, 4), _EXCHANGES_CUM)
            first_budget = budget if n_ex == 1 else int(budget * 0.55)
            _first(rng, cv, first_budget)
            rest = max(1, (budget - first_budget) // max(1, n_ex - 1))
            for i in range(1, n_ex):
                _follow(rng, cv, rest, i == n_ex - 1)
            turns = ([("system", system)] if system else []) + cv.turns
        rows.append({"conversations": [{"from": f, "value": v} for f, v in turns], "source": source, "score": _score(rng)})
    return rows
