"""Guards the mix of notebook 04 and the "mixed" stage that notebook 05 trains on.

Fails when the counts stop following the source tutorial's rule (every reasoning row, chat rows
to match the fraction; the other way round when chat rows run out); when a bad ratio (-0.1,
1.5, NaN, a string, a bool) is accepted or 0 and 1 stop meaning all-reasoning / all-chat; when
the same seed stops giving the same rows; when the mixed set loses ``text``, ``conversations``
or ``source``; when ``load_mixed`` gives back anything but what was saved; and when a refused
or interrupted save leaves a partial artifact.
"""

from __future__ import annotations

import math

import pytest
from datasets import Dataset

import qwen3lab as q


def cleaned(n: int, source: str, *, with_tokens: bool = True) -> Dataset:
    rows = {
        "text": [f"<|im_start|>user\n{source} {i}<|im_end|>\n" for i in range(n)],
        "conversations": [[{"role": "user", "content": f"{source} {i}"}, {"role": "assistant", "content": "a"}]
                          for i in range(n)],
        "extra": list(range(n)),
    }
    if with_tokens:
        rows["n_tokens"] = [10 + i for i in range(n)]
    return Dataset.from_dict(rows)


@pytest.mark.parametrize("n_reasoning, n_chat, fraction, expected", [
    (19_252, 100_000, 0.75, (19_252, 57_756)),  # the source tutorial at full size
    (19_252, 100_000, 0.25, (19_252, 6_417)),   # Unsloth's later notebook
    (240, 480, 0.75, (160, 480)),               # not enough chat rows: all of them, fewer reasoning rows
    (100, 1000, 0.6, (100, 150)),               # 0.6 / 0.4 is 1.4999999999999998 in floating point
    (100, 1000, 0.5, (100, 100)),
    (100, 1000, 0.0, (100, 0)),                 # legal: all reasoning
    (100, 1000, 1.0, (0, 1000)),                # legal: all chat
    (100, 1000, 1, (0, 1000)),
])
def test_mix_counts(n_reasoning, n_chat, fraction, expected):
    assert q.mix_counts(n_reasoning, n_chat, fraction) == expected


@pytest.mark.parametrize("bad", [-0.1, 1.5, math.nan, math.inf, "0.75", None, True, [0.5]])
def test_bad_ratios(bad):
    with pytest.raises(q.DataError, match="chat_fraction"):
        q.mix_counts(10, 10, bad)
    with pytest.raises(q.DataError, match="chat_fraction"):
        q.mix_datasets(cleaned(4, "reasoning"), cleaned(4, "chat"), chat_fraction=bad)


@pytest.mark.parametrize("n_reasoning, n_chat, fraction", [(1, 0, 0.5), (0, 0, 0.0), (0, 5, 0.0), (5, 0, 1.0),
                                                           (1, 1000, 0.25)])
def test_too_few_rows(n_reasoning, n_chat, fraction):
    with pytest.raises(q.DataError, match="too few rows"):
        q.mix_counts(n_reasoning, n_chat, fraction)


def test_mix_datasets():
    reasoning, chat = cleaned(30, "reasoning"), cleaned(200, "chat")
    mixed = q.mix_datasets(reasoning, chat, chat_fraction=0.75, seed=3407)
    assert mixed.column_names == ["text", "conversations", "n_tokens", "source"]
    assert q.composition(mixed) == {"reasoning": {"rows": 30, "tokens": sum(range(10, 40))},
                                    "chat": {"rows": 90, "tokens": sum(mixed.filter(
                                        lambda r: r["source"] == "chat")["n_tokens"])}}
    for row in mixed:  # every row is a row of its source, unchanged
        source = reasoning if row["source"] == "reasoning" else chat
        i = int(row["conversations"][0]["content"].split()[1])
        assert (row["text"], row["conversations"], row["n_tokens"]) == (source[i]["text"], source[i]["conversations"],
                                                                 source[i]["n_tokens"])
    assert mixed["source"][:20] != sorted(mixed["source"][:20])  # shuffled


def test_same_seed_same_rows():
    reasoning, chat = cleaned(30, "reasoning"), cleaned(200, "chat")
    a = q.mix_datasets(reasoning, chat, seed=1)
    assert q.same_rows(a, q.mix_datasets(reasoning, chat, seed=1))
    assert not q.same_rows(a, q.mix_datasets(reasoning, chat, seed=2))


def test_edge_fractions_give_one_source():
    reasoning, chat = cleaned(5, "reasoning"), cleaned(7, "chat")
    assert set(q.mix_datasets(reasoning, chat, chat_fraction=0)["source"]) == {"reasoning"}
    assert set(q.mix_datasets(reasoning, chat, chat_fraction=1)["source"]) == {"chat"}


def test_columns():
    reasoning, chat = cleaned(5, "reasoning"), cleaned(15, "chat", with_tokens=False)
    assert q.mix_datasets(reasoning, chat).column_names == ["text", "conversations", "source"]
    with pytest.raises(q.DataError, match=r"\['text'\] missing.*notebook 03"):
        q.mix_datasets(reasoning.remove_columns("text"), chat)
    with pytest.raises(q.DataError, match="columns do not match"):
        q.mix_datasets(reasoning, chat.remove_columns("conversations").add_column("conversations", ["x"] * 15))
    with pytest.raises(q.DataError, match="seed"):
        q.mix_datasets(reasoning, chat, seed="3407")


# -- the "mixed" stage -------------------------------------------------------------------------------------


def test_save_and_load_mixed(home):
    cfg = q.get_config("tiny")
    with pytest.raises(q.MissingArtifactError, match="04_sampling"):
        q.load_mixed()
    mixed = q.mix_datasets(cleaned(30, "reasoning"), cleaned(200, "chat"))
    out_dir = q.save_mixed(mixed, cfg, extra={"chat_fraction": 0.75})
    assert out_dir == q.stage_dir("mixed") and sorted(p.name for p in out_dir.iterdir()) == ["dataset", "manifest.json"]
    back = q.load_mixed()
    assert q.same_rows(back, mixed) and back.to_list() == mixed.to_list()
    manifest = q.read_manifest("mixed")
    assert manifest["rows"] == 120 and manifest["composition"]["chat"]["rows"] == 90
    assert manifest["chat_share"] == 0.75 and manifest["chat_fraction"] == 0.75


def test_save_mixed_refuses_bad_data_and_writes_nothing(home):
    cfg = q.get_config("tiny")
    mixed = q.mix_datasets(cleaned(3, "reasoning"), cleaned(9, "chat"))
    for bad, words in ((mixed.remove_columns("source"), r"\['source'\] missing"),
                       (mixed.select([]), "no rows"),
                       (mixed.map(lambda r: {"source": "web"}), "values \\['web'\\]"),
                       ([{"text": "x"}], "expected a datasets.Dataset")):
        with pytest.raises(q.DataError, match=words):
            q.save_mixed(bad, cfg)
        assert not home.exists() or not any(home.rglob("*"))


def test_interrupted_save_keeps_the_previous_mix(home):
    cfg = q.get_config("tiny")
    first = q.mix_datasets(cleaned(3, "reasoning"), cleaned(9, "chat"))
    q.save_mixed(first, cfg)

    class Broken:
        def savefig(self, *args, **kwargs):
            raise KeyboardInterrupt

    second = q.mix_datasets(cleaned(4, "reasoning"), cleaned(12, "chat"))
    with pytest.raises(KeyboardInterrupt):
        q.save_mixed(second, cfg, figures={"mix.png": Broken()})
    assert q.same_rows(q.load_mixed(), first)
    assert sorted(p.name for p in q.stage_dir("mixed").parent.iterdir()) == ["mixed"]
