"""qwen3lab.fused_lora: a LoRA layer on a 4-bit weight as one operator, against PEFT and float64.

The operator runs here on the CPU (bitsandbytes dequantizes NF4 and FP4 on the CPU); on a GPU the
same code takes Unsloth's Triton dequantize, measured in docs/benchmarks.md.
"""

from __future__ import annotations

import json

import pytest
import torch

from conftest import run_python

bnb = pytest.importorskip("bitsandbytes")
from peft import LoraConfig, get_peft_model  # noqa: E402

from qwen3lab import fused_lora  # noqa: E402

IN, OUT, R, ALPHA = 64, 96, 4, 8


class _Block(torch.nn.Module):
    def __init__(self, quant_type: str, nested: bool, dtype: torch.dtype):
        super().__init__()
        self.proj = bnb.nn.Linear4bit(IN, OUT, bias=False, compute_dtype=dtype, quant_type=quant_type,
                                      compress_statistics=nested)
        self.proj.weight = bnb.nn.Params4bit((torch.randn(OUT, IN) * 0.1).to(dtype), requires_grad=False,
                                             quant_type=quant_type, compress_statistics=nested,
                                             blocksize=64).to("cpu")  # .to quantizes it

    def forward(self, x):
        return self.proj(x)


def _model(quant_type="nf4", nested=True, dtype=torch.bfloat16, dropout=0.0):
    torch.manual_seed(0)
    block = _Block(quant_type, nested, dtype)
    # random B (not PEFT's zeros), so the LoRA term and its gradients are not trivially zero
    return get_peft_model(block, LoraConfig(r=R, lora_alpha=ALPHA, lora_dropout=dropout, target_modules=["proj"],
                                            init_lora_weights=False))


def _layer(model):
    return model.base_model.model.proj


def _grads(model, x):
    """Output, dX, dA, dB (float32) of one forward and backward of sum(y^2)."""
    layer = _layer(model)
    for p in model.parameters():
        p.grad = None
    x = x.detach().clone().requires_grad_(x.requires_grad)
    y = model(x)
    (y.float() ** 2).sum().backward()
    a, b = layer.lora_A["default"].weight, layer.lora_B["default"].weight
    return (y.detach().float(), None if x.grad is None else x.grad.float(), a.grad.float().clone(),
            b.grad.float().clone())


def _float64_reference(model, x):
    """The same function in float64 from the same dequantized weight."""
    layer = _layer(model)
    state = layer.base_layer.weight.quant_state
    w = bnb.functional.dequantize_4bit(layer.base_layer.weight.data, state).double()
    a = layer.lora_A["default"].weight.detach().double().requires_grad_()
    b = layer.lora_B["default"].weight.detach().double().requires_grad_()
    x = x.detach().double().requires_grad_()
    y = x @ w.t() + (x @ a.t()) @ b.t() * layer.scaling["default"]
    (y ** 2).sum().backward()
    return y.detach(), x.grad, a.grad, b.grad


def _relative(got, want) -> float:
    return float((got.double() - want.double()).norm() / want.double().norm())


@pytest.mark.parametrize("quant_type,nested", [("nf4", True), ("nf4", False), ("fp4", True)])
def test_output_and_gradients_match_peft_and_float64(quant_type, nested):
    model = _model(quant_type, nested)
    x = torch.randn(3, 5, IN, dtype=torch.bfloat16, requires_grad=True)
    want = _float64_reference(model, x)
    peft = _grads(model, x)
    assert fused_lora.install(model) == 1
    fused = _grads(model, x)
    for name, f, p, w in zip(("y", "dX", "dA", "dB"), fused, peft, want):
        # bf16 operands and products (as under autocast on a GPU): within a few bf16 roundings
        # (2**-8 = 3.9e-3) of float64; a wrong scaling, transpose or term is off by far more
        assert _relative(f, w) < 1e-2, name
        assert _relative(f, p) < 1e-2, name


def test_float32_layers_compute_in_float32():
    model = _model(dtype=torch.float32)
    x = torch.randn(4, IN, requires_grad=True)
    want = _float64_reference(model, x)
    fused_lora.install(model)
    for name, f, w in zip(("y", "dX", "dA", "dB"), _grads(model, x), want):
        assert _relative(f, w) < 1e-5, name


@pytest.mark.parametrize("keep", [False, True])
def test_under_torch_compile_it_is_one_graph_with_the_same_result(keep):
    model = _model()
    fused_lora.install(model)
    if keep:
        fused_lora.keep_dequantized(model)
    x = torch.randn(2, 7, IN, dtype=torch.bfloat16, requires_grad=True)
    eager = _grads(model, x)
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)  # fullgraph: no graph break
    layer = _layer(model)
    for p in model.parameters():
        p.grad = None
    xc = x.detach().clone().requires_grad_()
    y = compiled(xc)
    (y.float() ** 2).sum().backward()
    got = (y.detach().float(), xc.grad.float(), layer.lora_A["default"].weight.grad.float(),
           layer.lora_B["default"].weight.grad.float())
    for name, c, e in zip(("y", "dX", "dA", "dB"), got, eager):
        assert torch.allclose(c, e, rtol=1e-3, atol=1e-3), name


def test_the_operators_pass_torch_library_opcheck():
    x, w = torch.randn(3, 5, IN, dtype=torch.bfloat16), torch.randn(OUT, IN, dtype=torch.bfloat16)
    a, b = torch.randn(R, IN, dtype=torch.bfloat16), torch.randn(OUT, R, dtype=torch.bfloat16)
    grad, xa = torch.randn(3, 5, OUT, dtype=torch.bfloat16), torch.randn(3, 5, R, dtype=torch.bfloat16)
    torch.library.opcheck(torch.ops.qwen3lab.qlora_linear.default, (x, w, a, b))
    torch.library.opcheck(torch.ops.qwen3lab.qlora_linear_backward.default, (grad, x, xa, w, a, b))
    torch.library.opcheck(torch.ops.qwen3lab.qlora_linear_backward.default, (grad, x, xa, w.new_empty(0), a, b))


def test_an_input_without_gradient_skips_dx_and_its_dequantize(monkeypatch):
    model = _model()
    x = torch.randn(6, IN, dtype=torch.bfloat16)  # e.g. the first layer's input: no gradient needed
    peft = _grads(model, x)
    fused_lora.install(model)
    calls = []
    real = fused_lora._dequantize
    monkeypatch.setattr(fused_lora, "_dequantize", lambda *a: calls.append(1) or real(*a))
    fused = _grads(model, x)
    assert len(calls) == 1  # the forward's; the backward has no dX to compute
    assert fused[1] is None
    for name, f, p in zip(("dA", "dB"), fused[2:], peft[2:]):
        assert _relative(f, p) < 1e-2, name


def test_calls_it_does_not_cover_take_the_layers_own_forward(monkeypatch):
    model = _model()
    fused_lora.install(model)
    calls = []
    real = fused_lora._QLoRA.apply
    monkeypatch.setattr(fused_lora._QLoRA, "apply", lambda *a: calls.append(1) or real(*a))
    x = torch.randn(4, IN, dtype=torch.bfloat16)
    with torch.no_grad():  # generation
        model(x)
    with model.disable_adapter():  # the base model alone
        base = model(x)
    assert calls == []
    reference = _model()  # same seed: the same base weight
    with reference.disable_adapter():
        assert torch.equal(base, reference(x))
    model(x.requires_grad_())
    assert calls == [1]


def test_only_eligible_layers_are_installed_and_uninstall_restores_them():
    # not the function qlora_linear computes: dropout, DoRA, two adapters summed
    assert fused_lora.install(_model(dropout=0.1)) == 0
    torch.manual_seed(0)
    assert fused_lora.install(get_peft_model(_Block("nf4", True, torch.bfloat16),
                                             LoraConfig(r=R, lora_alpha=ALPHA, target_modules=["proj"],
                                                        use_dora=True))) == 0
    two = _model()
    two.add_adapter("second", LoraConfig(r=R, lora_alpha=ALPHA, target_modules=["proj"]))
    two.base_model.set_adapter(["default", "second"])
    assert fused_lora.install(two) == 0
    model = _model()
    x = torch.randn(4, IN, dtype=torch.bfloat16, requires_grad=True)
    before = _grads(model, x)
    assert (fused_lora.install(model), fused_lora.installed(model)) == (1, 1)
    assert fused_lora.uninstall(model) == 1
    assert fused_lora.installed(model) == 0
    assert all(torch.equal(a, b) for a, b in zip(before, _grads(model, x)))


@pytest.mark.parametrize("quant_type,nested", [("nf4", True), ("fp4", False)])
def test_a_weight_kept_dequantized_gives_the_same_results_without_dequantizing(quant_type, nested, monkeypatch):
    model = _model(quant_type, nested)
    fused_lora.install(model)
    x = torch.randn(3, 5, IN, dtype=torch.bfloat16, requires_grad=True)
    per_call = _grads(model, x)
    assert fused_lora.keep_dequantized(model) == 1
    layer = _layer(model)
    dense = getattr(layer, fused_lora.DENSE_BUFFER)
    assert dense.numel() * dense.element_size() == 2 * OUT * IN  # 16 bits a weight
    state = layer.base_layer.weight.quant_state
    assert torch.equal(dense, bnb.functional.dequantize_4bit(layer.base_layer.weight.data, state))
    assert fused_lora.DENSE_BUFFER not in "".join(model.state_dict())  # never saved with the model
    calls = []
    real = fused_lora._dequantize
    monkeypatch.setattr(fused_lora, "_dequantize", lambda *a: calls.append(1) or real(*a))
    kept = _grads(model, x)
    assert calls == []  # neither the forward nor the backward dequantizes
    for name, k, p in zip(("y", "dX", "dA", "dB"), kept, per_call):
        assert torch.equal(k, p), name  # the same values in the same products
    assert fused_lora.release_dequantized(model) == 1
    assert not hasattr(layer, fused_lora.DENSE_BUFFER)
    _grads(model, x)
    assert len(calls) == 2  # dequantized per call again: forward and backward


def test_running_out_of_memory_while_keeping_them_keeps_none_and_says_so(monkeypatch):
    model = _model()
    fused_lora.install(model)
    x = torch.randn(4, IN, dtype=torch.bfloat16, requires_grad=True)
    before = _grads(model, x)

    def out_of_memory(*_):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 96.00 MiB")

    monkeypatch.setattr(fused_lora, "_dequantize", out_of_memory)
    with pytest.warns(UserWarning, match="out of memory after 0 of 1 layers.*keep_dequantized=False"):
        assert fused_lora.keep_dequantized(model) == 0
    assert not hasattr(_layer(model), fused_lora.DENSE_BUFFER)
    monkeypatch.undo()
    assert all(torch.equal(a, b) for a, b in zip(before, _grads(model, x)))  # trains as before


def test_uninstall_drops_the_kept_weights():
    model = _model()
    fused_lora.install(model)
    fused_lora.keep_dequantized(model)
    assert fused_lora.uninstall(model) == 1
    assert fused_lora.release_dequantized(model) == 0
    assert not hasattr(_layer(model), fused_lora.DENSE_BUFFER)


def test_the_trainer_keeps_them_only_while_it_trains():
    from qwen3lab.train import _kept_dequantized_while_training

    model = _model()
    fused_lora.install(model)
    callback = _kept_dequantized_while_training(model)
    callback.on_train_begin(None, None, None)
    assert getattr(_layer(model), fused_lora.DENSE_BUFFER).dtype == torch.bfloat16
    callback.on_train_end(None, None, None)
    assert not hasattr(_layer(model), fused_lora.DENSE_BUFFER)


_TRAIN = """
import json
import qwen3lab as q
from datasets import Dataset
from qwen3lab import fused_lora

cfg = q.get_config("tiny", max_steps=3, warmup_steps=1, report_to="none", fused_lora=__FUSED__)
model, tokenizer = q.load_model(cfg)
model = q.add_lora(model, cfg)
rows = []
for i in range(8):
    messages = [{"role": "user", "content": f"{i}+{i}?"}, {"role": "assistant", "content": f"{2 * i}."}]
    rows.append({"text": q.render_chat(tokenizer, messages, enable_thinking=False, add_generation_prompt=False)})
trainer = q.make_trainer(model, tokenizer, Dataset.from_list(rows), cfg)
trainer.train()
print(json.dumps({"fused": fused_lora.installed(model),
                  "losses": [h["loss"] for h in trainer.state.log_history if "loss" in h]}))
"""


def test_add_lora_installs_it_from_the_config_and_training_gives_the_same_losses():
    env = {"QWEN3LAB_BACKEND": "transformers"}  # PEFT's LoRA layers on bitsandbytes' 4-bit weights
    runs = {fused: json.loads(run_python(_TRAIN.replace("__FUSED__", str(fused)), env=env).stdout.splitlines()[-1])
            for fused in (False, True)}
    assert runs[False]["fused"] == 0
    assert runs[True]["fused"] == 14  # 2 layers x 7 projections of the tiny Qwen3
    assert len(runs[True]["losses"]) == 3
    assert runs[True]["losses"] == pytest.approx(runs[False]["losses"], rel=1e-3)
