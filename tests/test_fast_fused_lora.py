"""qwen3lab.fast.fused_lora: a LoRA layer on a 4-bit weight as one operator, against PEFT and float64.

The operator runs here on the CPU (bitsandbytes dequantizes NF4 and FP4 on the CPU); on a GPU the
same code takes Unsloth's Triton dequantize, measured in docs/benchmarks.md. The last test trains
the tiny Qwen3 loaded by Unsloth's own loader, with and without it.
"""

from __future__ import annotations

import pytest
import torch

from qwen3lab.fast import fused_lora  # conftest has imported Unsloth first (qwen3lab.bootstrap)

bnb = pytest.importorskip("bitsandbytes")
from peft import LoraConfig, get_peft_model  # noqa: E402

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


@pytest.mark.parametrize("keep", ["no", "bf16", "fp8"])
def test_under_torch_compile_it_is_one_graph_with_the_same_result(keep):
    model = _model()
    fused_lora.install(model)
    if keep != "no":
        fused_lora.keep_dequantized(model, fp8=keep == "fp8")
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
    xq, xs = fused_lora.rowwise_fp8(x.reshape(-1, IN))
    gq, gs = fused_lora.rowwise_fp8(grad.reshape(-1, OUT))
    wq, ws = fused_lora.rowwise_fp8(w)
    wtq, wts = fused_lora.rowwise_fp8(w.t())
    ws, wts = ws.reshape(1, -1), wts.reshape(1, -1)
    # opcheck's schema test compares tensors with ops float8 lacks on the CPU; the others run, and
    # that no input is written to is checked here
    utils = ("test_autograd_registration", "test_faketensor", "test_aot_dispatch_dynamic")
    empty = x.new_empty(0)
    for op, args in ((torch.ops.qwen3lab.qlora_linear_fp8.default, (x, xq, xs, wq, ws, a, b)),
                     (torch.ops.qwen3lab.qlora_linear_fp8_backward.default, (grad, gq, gs, x, xa, wtq, wts, a, b)),
                     (torch.ops.qwen3lab.qlora_linear_fp8_backward.default, (grad, empty, empty, x, xa, empty, empty, a, b))):
        torch.library.opcheck(op, args, test_utils=utils)
        before = [t.view(torch.uint8).clone() if t.dtype == torch.float8_e4m3fn else t.clone() for t in args]
        op(*args)
        for t, kept in zip(args, before):
            assert torch.equal(t.view(torch.uint8) if t.dtype == torch.float8_e4m3fn else t, kept)


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


@pytest.mark.parametrize("fp8", [False, True])
def test_the_trainer_keeps_them_only_while_it_trains(fp8):
    from qwen3lab.fast import KeepDequantized

    model = _model()
    fused_lora.install(model)
    callback = KeepDequantized(fp8=fp8)
    callback.on_train_begin(None, None, None, model=model)  # the trainer hands its callbacks the model
    name = fused_lora.FP8_BUFFERS[0] if fp8 else fused_lora.DENSE_BUFFER
    assert getattr(_layer(model), name).dtype == (torch.float8_e4m3fn if fp8 else torch.bfloat16)
    callback.on_train_end(None, None, None, model=model)
    assert not hasattr(_layer(model), name)


def test_rowwise_fp8_maps_each_rows_largest_magnitude_to_448_and_keeps_zero_rows():
    t = torch.tensor([[1.0, -2.0, 0.5], [0.0, 0.0, 0.0], [1e-3, 3e-3, -4e-3]], dtype=torch.bfloat16)
    q, scale = fused_lora.rowwise_fp8(t)
    assert q.dtype == torch.float8_e4m3fn and scale.dtype == torch.float32 and scale.shape == (3, 1)
    assert q.float().abs().amax(dim=1).tolist() == [448.0, 0.0, 448.0]  # a zero row stays zero, no NaN
    back = q.float() * scale
    assert torch.allclose(back, t.float(), rtol=2**-4, atol=0)  # e4m3: 3 mantissa bits
    big = torch.randn(64, 256) * torch.logspace(-3, 3, 64)[:, None]  # rows six decades apart
    q, scale = fused_lora.rowwise_fp8(big)
    assert _relative(q.float() * scale, big) < 0.03  # each row scaled to its own range


def _fp8_reference(layer, x, grad):
    """The FP8 layer's y and dX in float64 from its own e4m3 operands: what the products must give."""
    wq, ws = (getattr(layer, name) for name in fused_lora.FP8_BUFFERS)
    a = layer.lora_A["default"].weight.detach().to(x.dtype).double()
    b = (layer.lora_B["default"].weight.detach() * layer.scaling["default"]).to(x.dtype).double()
    xq, xs = fused_lora.rowwise_fp8(x.reshape(-1, IN))
    y = (xq.double() * xs.double()) @ (wq.double() * ws.double().t()).t() + (x.reshape(-1, IN).double() @ a.t()) @ b.t()
    # the backward's operands: the gradient with the weight's scales folded into its columns, in e4m3
    gq, gs = fused_lora.rowwise_fp8(grad.reshape(-1, OUT).float() * ws)
    dx = (gq.double() * gs.double()) @ wq.double() + (grad.reshape(-1, OUT).double() @ b) @ a
    return y.view(*x.shape[:-1], OUT), dx.view(x.shape)


def test_a_weight_kept_in_fp8_multiplies_in_fp8_in_both_directions(monkeypatch):
    model = _model()
    fused_lora.install(model)
    x = torch.randn(3, 5, IN, dtype=torch.bfloat16, requires_grad=True)
    want = _float64_reference(model, x)
    assert fused_lora.keep_dequantized(model, fp8=True) == 1
    layer = _layer(model)
    wq, ws = (getattr(layer, name) for name in fused_lora.FP8_BUFFERS)
    assert (wq.dtype, wq.shape, ws.shape) == (torch.float8_e4m3fn, (OUT, IN), (1, OUT))
    assert not hasattr(layer, fused_lora.DENSE_BUFFER)  # one 8-bit copy instead of one 16-bit copy
    kept = sum(b.numel() * b.element_size() for name, b in layer.named_buffers() if name.startswith("qwen3lab_"))
    assert kept == OUT * IN + 4 * OUT  # one byte a weight, plus a float32 scale per output channel
    assert not any(name in "".join(model.state_dict()) for name in fused_lora.FP8_BUFFERS)  # never saved
    dense = bnb.functional.dequantize_4bit(layer.base_layer.weight.data, layer.base_layer.weight.quant_state)
    assert _relative(wq.float() * ws.t(), dense) < 0.03
    calls = []
    real = fused_lora._dequantize
    monkeypatch.setattr(fused_lora, "_dequantize", lambda *a: calls.append(1) or real(*a))
    y, dx, da, db = _grads(model, x)
    assert calls == []
    y_fp8, dx_fp8 = _fp8_reference(layer, x.detach(), 2 * y.to(torch.bfloat16))  # d(sum y^2)/dy = 2y
    assert _relative(y, y_fp8) < 1e-2 and _relative(dx, dx_fp8) < 1e-2  # the FP8 operands, within bf16 output
    # against float64 from the 16-bit weight: FP8's rounding (a few %), not a wrong term (order 100%)
    for name, got, ref in zip(("y", "dX", "dA", "dB"), (y, dx, da, db), want):
        assert _relative(got, ref) < 0.06, name
    assert fused_lora.release_dequantized(model) == 1
    assert not any(hasattr(layer, name) for name in fused_lora.FP8_BUFFERS)


def test_an_fp8_layer_skips_dx_when_its_input_needs_no_gradient(monkeypatch):
    model = _model()
    fused_lora.install(model)
    fused_lora.keep_dequantized(model, fp8=True)
    dx_products = []
    real = torch._scaled_mm
    monkeypatch.setattr(torch, "_scaled_mm", lambda *a, **k: dx_products.append(k["use_fast_accum"]) or real(*a, **k))
    y, dx, da, db = _grads(model, torch.randn(6, IN, dtype=torch.bfloat16))
    assert dx is None and dx_products == [True]  # the forward's only, with fast accumulation by default
    monkeypatch.setattr(fused_lora, "FP8_FAST_ACCUM", "none")
    dx_products.clear()
    _grads(model, torch.randn(6, IN, dtype=torch.bfloat16, requires_grad=True))
    assert dx_products == [False, False]  # forward and dX, both accumulating in float32


def test_fp8_is_kept_in_16_bits_where_the_device_has_no_fp8_products(monkeypatch):
    assert fused_lora.fp8_supported("cpu") and not fused_lora.fp8_supported("meta")
    model = _model()
    fused_lora.install(model)
    monkeypatch.setattr(fused_lora, "fp8_supported", lambda device: False)  # e.g. an A100
    with pytest.warns(UserWarning, match="no FP8 matrix products.*fp8_frozen=False"):
        assert fused_lora.keep_dequantized(model, fp8=True) == 1
    assert getattr(_layer(model), fused_lora.DENSE_BUFFER).dtype == torch.bfloat16


def _losses(model, batches, steps: int = 3) -> list[float]:
    """Loss of each of ``steps`` AdamW steps on the LoRA weights, one batch a step."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=5e-3)
    losses = []
    for batch in batches[:steps]:
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(float(loss.detach()))
    return losses


def test_on_the_tiny_qwen3_it_covers_every_projection_and_trains_to_the_same_losses(shared_home):
    """Unsloth's loader and get_peft_model, as notebook 05 calls them (its CPU backend here: PEFT's
    LoRA layers on bitsandbytes' 4-bit weights): 14 layers (2 x 7 projections), and three training
    steps give the losses of PEFT's own forward."""
    from unsloth import FastLanguageModel

    from qwen3lab.config import get_config
    from qwen3lab.tiny import build_tiny_model

    cfg = get_config("tiny")
    model, tokenizer = FastLanguageModel.from_pretrained(model_name=str(build_tiny_model(cfg)), max_seq_length=256,
                                                         dtype=None, load_in_4bit=True)
    model = FastLanguageModel.get_peft_model(model, r=8, target_modules=list(cfg.target_modules), lora_alpha=16,
                                             lora_dropout=0, bias="none", use_gradient_checkpointing=False,
                                             random_state=3407)
    batches = []
    for i in range(3):
        text = tokenizer.apply_chat_template([{"role": "user", "content": f"{i}+{i}?"},
                                              {"role": "assistant", "content": f"{2 * i}."}], tokenize=False)
        ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
        batches.append({"input_ids": ids, "labels": ids})
    start = {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}
    plain = _losses(model, batches)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in start:
                p.copy_(start[name])
    assert fused_lora.install(model) == 14
    calls = []
    real = fused_lora._QLoRA.apply
    try:
        fused_lora._QLoRA.apply = lambda *a: calls.append(1) or real(*a)
        fused = _losses(model, batches)
    finally:
        fused_lora._QLoRA.apply = real
    assert len(calls) == 3 * 14  # every projection of every step went through the operator
    assert fused == pytest.approx(plain, rel=1e-3)
    assert fused[-1] < fused[0]
