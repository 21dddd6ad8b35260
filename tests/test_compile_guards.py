"""The two recompiles of a padding-free GPU step, reproduced with torch.compile on the CPU.

Each test compiles a function with a backend that counts compilations (no Inductor, so no C
compiler is needed) and feeds it inputs shaped like what Unsloth hands its compiled decoder
blocks: the (cu_seqlens, longest sequence) pair of a pass, and a pass sliced out of a larger step.
The last test checks that make_trainer installs both fixes where they apply.
"""

import pytest
import torch
from conftest import last_json, run_python

from qwen3lab import backend
from qwen3lab.train import standard_strides, standard_strides_per_pass


def counting_compile(fn):
    compiles = []

    def count(graph_module, example_inputs):
        compiles.append(graph_module)
        return graph_module.forward

    torch._dynamo.reset()
    return torch.compile(fn, backend=count), compiles


@pytest.fixture
def clean_dynamic_sources():
    with torch.compiler.config.patch(dynamic_sources=""):
        yield


def block(hidden, **kwargs):  # what a compiled decoder block reads of the varlen pair
    cu_seqlens, longest = kwargs["_unsloth_block_varlen"]
    return hidden * longest + cu_seqlens.sum()


def passes():
    # three passes: 8 sequences (longest 4696), 8 (longest 2101), then a split step's 4 (longest 977)
    for count, longest in ((8, 4696), (8, 2101), (4, 977)):
        yield torch.arange(count + 1, dtype=torch.int32), longest


def test_varlen_pair_compiles_once_when_marked_dynamic(clean_dynamic_sources):
    backend.compile_varlen_dynamic()
    compiled, compiles = counting_compile(block)
    for cu_seqlens, longest in passes():
        compiled(torch.ones(3), _unsloth_block_varlen=(cu_seqlens, longest))
    assert len(compiles) == 1


def test_varlen_pair_recompiles_without_it(clean_dynamic_sources):
    # the failure the marking exists for: a new longest sequence, then a new sequence count
    compiled, compiles = counting_compile(block)
    for cu_seqlens, longest in passes():
        compiled(torch.ones(3), _unsloth_block_varlen=(cu_seqlens, longest))
    assert len(compiles) >= 2


def test_marking_keeps_other_sources_and_adds_nothing_twice():
    with torch.compiler.config.patch(dynamic_sources="L['x']"):
        backend.compile_varlen_dynamic()
        backend.compile_varlen_dynamic()
        assert torch.compiler.config.dynamic_sources.split(",") == ["L['x']", *backend.UNSLOTH_VARLEN_SOURCES]


def step_then_split_step():
    # a step of 2 sequences (5 + 4 tokens) in one pass, then a step of 3 (5 + 4 + 3) that Unsloth's
    # token budget cuts after the second: its passes are slices of the [1, 12] tensors
    def step(lengths):
        positions = torch.cat([torch.arange(n) for n in lengths]).view(1, -1)
        return {"input_ids": torch.arange(positions.shape[1]).view(1, -1), "position_ids": positions,
                "labels": torch.arange(positions.shape[1]).view(1, -1)}

    yield step([5, 4]), 9
    split = step([5, 4, 3])
    yield {key: value[:, :9] for key, value in split.items()}, 9
    yield {key: value[:, 9:] for key, value in split.items()}, 3


def sliced_passes():
    return list(step_then_split_step())[1:]


def layer(input_ids, position_ids, labels):
    hidden = torch.ones(1, input_ids.shape[1], 4)  # a fresh tensor, as the embeddings are
    return (hidden * (position_ids + 1).unsqueeze(-1)).sum(-1) * labels


def test_slices_of_a_step_get_their_own_strides():
    first, _ = sliced_passes()[0]
    assert first["position_ids"].stride() == (12, 1)  # the whole step's row stride
    fixed = standard_strides(first)
    assert all(fixed[key].stride() == (9, 1) for key in first)
    assert all(torch.equal(fixed[key], first[key]) for key in first)


def test_tensors_already_in_standard_strides_are_not_copied():
    batch = {"input_ids": torch.arange(6).view(1, 6), "num_items": 3, "mask": torch.ones(6)}
    fixed = standard_strides(batch)
    assert fixed["input_ids"] is batch["input_ids"] and fixed["num_items"] == 3


def test_a_split_step_compiles_once_with_standard_strides():
    # the token axis is marked dynamic, as Unsloth marks it; what still failed a guard at the first
    # split step on the GPU was the stride (position_ids.stride()[0] == inputs_embeds.size()[1])
    for fix, expected in ((standard_strides, 1), (lambda batch: batch, 2)):
        compiled, compiles = counting_compile(layer)
        for batch, tokens in step_then_split_step():
            batch = fix(batch)
            for value in batch.values():
                torch._dynamo.maybe_mark_dynamic(value, 1)
            compiled(**batch)
        assert len(compiles) == expected, fix


def test_the_trainer_hook_fixes_every_pass():
    class Trainer:
        def _prepare_inputs(self, inputs):
            return inputs

    trainer = Trainer()
    standard_strides_per_pass(trainer)
    for batch, tokens in sliced_passes():
        assert trainer._prepare_inputs(batch)["labels"].stride() == (tokens, 1)


_WIRING = """
import json, torch
import qwen3lab as q
from datasets import Dataset
from qwen3lab.recipe import Recipe

cfg = q.get_config("tiny", max_steps=1, report_to="none")
model, tokenizer = q.load_model(cfg)
model = q.add_lora(model, cfg)
rows = [{"text": q.render_chat(tokenizer, [{"role": "user", "content": f"{i}?"},
                                           {"role": "assistant", "content": f"{i}."}],
                                enable_thinking=False, add_generation_prompt=False)} for i in range(4)]
result = {}
for padding_free in (False, True):
    # the recipe fit_recipe gives a large card (padding-free, a token budget), and the source's
    model._qwen3lab_recipe = Recipe(4, 1, False, padding_free, 4096 if padding_free else None, "test")
    trainer = q.make_trainer(model, tokenizer, Dataset.from_list(rows), cfg)
    sliced = {"input_ids": torch.arange(12).view(1, 12)[:, 4:], "labels": torch.arange(12).view(1, 12)[:, 4:]}
    prepared = trainer._prepare_inputs(dict(sliced))
    result[str(padding_free)] = {"strides": list(prepared["input_ids"].stride()),
                                 "sources": torch.compiler.config.dynamic_sources}
print(json.dumps(result))
"""


def test_make_trainer_installs_both_for_padding_free_recipes_on_unsloth(shared_home):
    pytest.importorskip("unsloth")
    result = last_json(run_python(_WIRING, env={"QWEN3LAB_BACKEND": "unsloth"}))
    assert result["False"] == {"strides": [12, 1], "sources": ""}  # the source recipe: untouched
    assert result["True"]["strides"] == [8, 1]
    assert result["True"]["sources"].split(",") == list(backend.UNSLOTH_VARLEN_SOURCES)
