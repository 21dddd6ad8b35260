"""Guards the synthetic data sets and the bundled fixtures against drifting from the real sets.

tools/synth.py writes rows in the exact schemas of unsloth/OpenMathReasoning-mini (split
``cot``) and mlabonne/FineTome-100k: the benchmarks' full-size data and the source of fresh
fixtures. These tests fail when a column is renamed, reordered or retyped; when a solution's
boxed answer stops matching ``expected_answer`` or its ``<think>`` block is malformed; when a
conversation breaks the human/gpt turn order the cleaning code relies on; when a seed stops
giving the same rows; when the full-scale token lengths drift from the real sets' (``TARGETS``:
what makes the benchmarks' length filtering and batching realistic); and when a committed
fixture file breaks its contract (tools/make_fixtures.py: 240/480 rows in the real schema,
every row under the tiny profile's 1,024 tokens, ...) or the contract check stops catching a
broken row.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import make_fixtures  # noqa: E402
import synth  # noqa: E402

SAMPLE = {"reasoning": 400, "chat": 3000}  # full-scale rows whose tokens are counted (~4 s together)


@pytest.fixture(scope="module")
def full():
    rows = {"reasoning": synth.synth_reasoning(SAMPLE["reasoning"], seed=11),
            "chat": synth.synth_chat(SAMPLE["chat"], seed=11)}
    return {kind: (r, synth.token_lengths(r)) for kind, r in rows.items()}


@pytest.fixture(scope="module")
def fixture_scale():
    return {"reasoning": synth.synth_reasoning(600, seed=11, scale="fixture"),
            "chat": synth.synth_chat(1500, seed=11, scale="fixture")}


def _problems(kind: str, rows: list[dict]) -> list[str]:
    check = make_fixtures.reasoning_problems if kind == "reasoning" else make_fixtures.chat_problems
    return [f"row {i}: {p}" for i, row in enumerate(rows) for p in check(row)]


# -- the generator ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["reasoning", "chat"])
def test_every_row_has_the_hub_schema(kind, full, fixture_scale):
    """Columns in Hub order and types, boxed answer == expected_answer, turn order, categories."""
    assert _problems(kind, full[kind][0]) == []
    assert _problems(kind, fixture_scale[kind]) == []


def test_arguments_are_checked():
    assert synth.synth_reasoning(0) == [] and synth.synth_chat(0) == []
    for gen in (synth.synth_reasoning, synth.synth_chat):
        for bad in (dict(scale="small"), dict(scale="FULL")):
            with pytest.raises(ValueError, match="scale"):
                gen(3, **bad)
        for n in (-1, 2.0, True):
            with pytest.raises(ValueError, match="n must be"):
                gen(n)


@pytest.mark.parametrize("gen", [synth.synth_reasoning, synth.synth_chat])
@pytest.mark.parametrize("scale", synth.SCALES)
def test_same_seed_same_rows(gen, scale):
    rows = gen(30, seed=123, scale=scale)
    assert rows == gen(30, seed=123, scale=scale)
    assert rows[:10] == gen(10, seed=123, scale=scale)  # a shorter call is a prefix
    other = gen(30, seed=124, scale=scale)
    assert sum(a == b for a, b in zip(rows, other)) < 3
    assert gen(5, scale=scale) == gen(5, seed=3407, scale=scale)  # the default seed


def _near(value: float, target: float, tolerance: float) -> bool:
    return abs(value / target - 1) <= tolerance


def test_full_scale_reasoning_lengths_match_the_real_set(full):
    stats, target = synth.length_stats(full["reasoning"][1]), synth.TARGETS["reasoning"]
    assert _near(stats["median"], target["median"], 0.1), stats
    assert _near(stats["mean"], target["mean"], 0.1), stats
    assert _near(stats["p95"], target["p95"], 0.2), stats  # a 400-row sample: p95 moves by up to ~16% with the seed
    assert stats["max"] < target["max_below"], stats
    assert stats["share_under_1000"] < 0.04, stats  # ~1% in the real set
    assert 0.6 < stats["share_over_2048"] < 0.95, stats  # most traces are longer than 2,048 tokens


def test_full_scale_chat_lengths_and_turns_match_the_real_set(full):
    rows, lengths = full["chat"]
    stats, target = synth.length_stats(lengths) | synth.chat_stats(rows), synth.TARGETS["chat"]
    assert _near(stats["median"], target["median"], 0.1), stats
    assert _near(stats["mean"], target["mean"], 0.1), stats
    assert _near(stats["p95"], target["p95"], 0.15), stats
    assert 0.005 < stats["share_over_2048"] < 0.05, stats  # a long tail
    assert stats["turns_median"] == target["turns_median"] and _near(stats["turns_mean"], target["turns_mean"], 0.05), stats
    assert _near(stats["score_median"], target["score_median"], 0.005), stats
    assert _near(stats["score_mean"], target["score_mean"], 0.005), stats


def test_fixture_scale_rows_meet_the_fixture_contract(fixture_scale):
    """Short rows, both languages, every category: what a fresh fixture file needs, on a bigger sample."""
    for kind, rows in fixture_scale.items():
        lengths = synth.token_lengths(rows)
        assert make_fixtures.set_problems(kind, rows, lengths) == [], kind
        assert statistics.median(lengths) < 350, kind
    chat = fixture_scale["chat"]
    assert {sum(t["from"] == "human" for t in r["conversations"]) for r in chat} == {1, 2, 3, 4}
    assert 0.03 < sum(r["conversations"][0]["from"] == "system" for r in chat) / len(chat) < 0.2
    assert any("```python" in t["value"] for r in chat for t in r["conversations"])


def test_full_scale_rows_are_in_both_languages(full):
    for kind, (rows, _) in full.items():
        zh = sum(bool(make_fixtures.CJK.search(make_fixtures.first_text(kind, r))) for r in rows) / len(rows)
        assert 0.4 < zh < 0.6, (kind, zh)


# -- the committed fixtures ----------------------------------------------------------------------

def test_committed_fixtures_keep_their_contract():
    assert make_fixtures.check() == []


def test_fresh_fixtures_keep_the_same_contract(tmp_path, capsys):
    assert make_fixtures.main(["--out", str(tmp_path)]) == 0, capsys.readouterr().out
    for rel, n in make_fixtures.FILES.values():
        assert (tmp_path / rel).read_text(encoding="utf-8").count("\n") == n


def test_the_contract_names_each_broken_row(tmp_path):
    for rel, _ in make_fixtures.FILES.values():
        (tmp_path / rel).parent.mkdir(parents=True)
        shutil.copy(make_fixtures.HUB / rel, tmp_path / rel)
    (reasoning, _), (chat, _) = make_fixtures.FILES["reasoning"], make_fixtures.FILES["chat"]
    rows = [json.loads(line) for line in (tmp_path / reasoning).read_text(encoding="utf-8").splitlines()]
    rows[3]["expected_answer"] += "0"
    (tmp_path / reasoning).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    rows = [json.loads(line) for line in (tmp_path / chat).read_text(encoding="utf-8").splitlines()]
    rows[7]["conversations"][-1]["value"] += " and so on" * 400  # one row over the tiny profile's 1,024 tokens
    (tmp_path / chat).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    problems = make_fixtures.check(tmp_path)
    assert len(problems) == 2, problems
    assert "row 3: boxed answer" in problems[0] and "row 7:" in problems[1] and "tokens" in problems[1]
    turn = rows[0]["conversations"]
    assert "roles" in " ".join(make_fixtures.chat_problems({**rows[0], "conversations": turn[::-1]}))
