"""The two recompiles of a padding-free GPU step (qwen3lab.fast.compile), reproduced with
torch.compile on the CPU.

Each test compiles a function with a backend that counts compilations (no Inductor, so no C
compiler is needed) and feeds it inputs shaped like what Unsloth hands its compiled decoder
blocks: the (cu_seqlens, longest sequence) pair of a pass, and a pass sliced out of a larger step.
The last tests check that the trainer callback gives every forward of a training run standard
strides, on the passes Unsloth's own token-budget split makes. tests/test_fast_speed_up.py checks
that fast.speed_up installs both fixes where they apply.
"""

import pytest
import torch

from qwen3lab.fast.compile import (UNSLOTH_VARLEN_SOURCES, StandardStridesPerPass, compile_varlen_dynamic,
                                   standard_strides)


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
    compile_varlen_dynamic()
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
        compile_varlen_dynamic()
        compile_varlen_dynamic()
        assert torch.compiler.config.dynamic_sources.split(",") == ["L['x']", *UNSLOTH_VARLEN_SOURCES]


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


def _unsloth_token_budget():
    """unsloth/utils/token_budget.py, loaded from its file: it needs only torch, and importing
    ``unsloth.utils`` after Unsloth's CPU backend started fails (a circular import)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("unsloth")
    if spec is None:
        pytest.skip("Unsloth is not installed")
    path = Path(spec.submodule_search_locations[0]) / "utils" / "token_budget.py"
    module_spec = importlib.util.spec_from_file_location("unsloth_token_budget", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


class Layer(torch.nn.Module):
    """Records the strides of the tensors each forward receives."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, input_ids=None, position_ids=None, labels=None, **kwargs):
        self.seen.append({key: value.stride() for key, value in
                          (("input_ids", input_ids), ("position_ids", position_ids), ("labels", labels))})
        return input_ids


def test_the_callback_fixes_every_pass_while_training_and_only_then():
    model, callback = Layer(), StandardStridesPerPass()
    callback.on_train_begin(None, None, None, model=model)
    callback.on_train_begin(None, None, None, model=model)  # a second train() call: one hook, not two
    assert len(model._forward_pre_hooks) == 1
    for batch, tokens in sliced_passes():
        model(**batch)
        assert all(stride == (tokens, 1) for stride in model.seen[-1].values())
    callback.on_train_end(None, None, None, model=model)
    assert not model._forward_pre_hooks
    model(**sliced_passes()[0][0])
    assert model.seen[-1]["labels"] == (12, 1)  # outside training: as given


def test_unsloths_token_budget_split_is_what_the_callback_fixes():
    """Unsloth's own split (unsloth/utils/token_budget.py) of a padding-free step of three sequences
    (5 + 4 + 3 tokens) at a 9-token budget: slices with the whole step's stride, fixed per pass."""
    split_batch_by_token_budget = _unsloth_token_budget().split_batch_by_token_budget
    positions = torch.cat([torch.arange(n) for n in (5, 4, 3)]).view(1, -1)
    labels = torch.arange(12).view(1, -1).masked_fill(positions == 0, -100)  # each sequence's first token masked
    step = {"input_ids": torch.arange(12).view(1, -1), "position_ids": positions, "labels": labels}
    passes = split_batch_by_token_budget(step, 9)
    assert [p["input_ids"].shape[1] for p in passes] == [9, 3]
    assert all(p["position_ids"].stride() == (12, 1) for p in passes)  # what failed the guard on the GPU
    model, callback = Layer(), StandardStridesPerPass()
    callback.on_train_begin(None, None, None, model=model)
    for p in passes:
        model(**p)
    assert [seen["position_ids"] for seen in model.seen] == [(9, 1), (3, 1)]
    assert [seen["labels"] for seen in model.seen] == [(9, 1), (3, 1)]
