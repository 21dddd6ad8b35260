"""Guards backend selection and the traps each backend hides: which backend runs, the clear errors
when a profile cannot run here, TRL's Triton-only LM head on a CPU (trap 1), bitsandbytes' CPU
repacking after an inference pass (trap 2), and API drift in the keyword arguments we pass."""

import inspect

import pytest

from conftest import last_json, run_python
from qwen3lab import backend
from qwen3lab.backend import BackendError, check_environment, check_model_reachable, resolve_backend
from qwen3lab.config import Config, get_config


def test_auto_prefers_unsloth_when_installed(monkeypatch):
    monkeypatch.setattr(backend, "unsloth_installed", lambda: True)
    assert resolve_backend(Config(backend="auto")) == "unsloth"
    monkeypatch.setattr(backend, "unsloth_installed", lambda: False)
    assert resolve_backend(Config(backend="auto")) == "transformers"
    assert resolve_backend(Config(backend="transformers")) == "transformers"


def test_asking_for_missing_unsloth_says_how_to_install(monkeypatch):
    monkeypatch.setattr(backend, "unsloth_installed", lambda: False)
    with pytest.raises(BackendError, match=r"pip install --no-deps unsloth==2026\.10\.9.*QWEN3LAB_BACKEND=transformers"):
        resolve_backend(Config(backend="unsloth"))


def test_full_profile_without_cuda_fails_at_once(monkeypatch):
    monkeypatch.setattr(backend, "cuda_available", lambda: False)
    with pytest.raises(BackendError, match=r"needs a CUDA GPU.*tiny profile.*docs/gpu\.md"):
        check_environment(get_config("full"))


def test_uncached_model_offline_says_how_to_prefill(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(BackendError, match=r"not in the Hugging Face cache.*hf download"):
        check_model_reachable("unsloth/Qwen3-8B-unsloth-bnb-4bit")


def test_tiny_profile_passes_the_preflight():
    check_environment(get_config("tiny"))


def test_torch_log_prob_shim_matches_log_softmax():
    import torch

    torch.manual_seed(0)
    hidden = torch.randn(37, 16, requires_grad=True)
    weight = torch.randn(50, 16)
    labels = torch.randint(0, 50, (37,))
    out = backend._TorchChunkedLogProb.apply(hidden, weight, None, labels, 1.0, 8, None, 1.0,
                                             ("log_probs", "entropy"))
    ref = torch.log_softmax(hidden @ weight.T, -1)
    torch.testing.assert_close(out[0], ref.gather(-1, labels[:, None]).squeeze(-1))
    torch.testing.assert_close(out[1], -(ref.exp() * ref).sum(-1))
    assert out[2] is None and out[3] is None and out[4] is None
    out[0].sum().backward()
    assert hidden.grad is not None and torch.isfinite(hidden.grad).all()


_TRAIN_SCRIPT = """
import json, qwen3lab as q, torch
from datasets import Dataset
from trl import SFTConfig, SFTTrainer
cfg = q.get_config("tiny", learning_rate=5e-3, use_gradient_checkpointing=False, unsloth_loader="__LOADER__")
model, tokenizer = q.load_model(cfg)
layer = type(model.model.layers[0].self_attn.q_proj).__name__
with torch.no_grad():  # an inference pass before training: trap 2 on bitsandbytes' CPU path
    model(**tokenizer("warm up", return_tensors="pt").to(model.device))
from qwen3lab import backend
model = backend.get_peft_model(model, cfg, q.lora_target_modules(model))
rows = [{"text": q.render_chat(tokenizer, [{"role": "user", "content": f"{i}+{i}?"},
                                           {"role": "assistant", "content": f"{2 * i}"}],
                               enable_thinking=False, add_generation_prompt=False)} for i in range(32)]
args = SFTConfig(output_dir="__OUT__", per_device_train_batch_size=4, max_steps=12, learning_rate=5e-3,
                 logging_steps=1, report_to="none", seed=3407, save_strategy="no",
                 **backend.sft_backend_args(cfg))
trainer = SFTTrainer(model=model, processing_class=tokenizer, train_dataset=Dataset.from_list(rows), args=args)
trainer.train()
losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
print(json.dumps({"backend": q.BACKEND, "layer": layer, "losses": losses}))
"""


@pytest.mark.parametrize("name,loader", [("transformers", "FastLanguageModel"), ("unsloth", "FastLanguageModel"),
                                         ("unsloth", "FastModel")])
def test_each_backend_trains_the_tiny_4bit_model_on_a_cpu(name, loader, tmp_path):
    """Either backend, and either Unsloth loader (``cfg.unsloth_loader``), trains the 4-bit model."""
    script = _TRAIN_SCRIPT.replace("__OUT__", str(tmp_path / "out")).replace("__LOADER__", loader)
    proc = run_python(script,
                      env={"QWEN3LAB_BACKEND": name, "QWEN3LAB_HOME": str(tmp_path / "home")})
    result = last_json(proc)
    assert result["backend"] == name
    assert result["layer"] == "Linear4bit"
    losses = result["losses"]
    assert len(losses) == 12 and all(loss == loss for loss in losses)  # no NaN
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 0.1, losses


def test_trap2_fix_keeps_lora_gradients_exact_after_inference(tmp_path):
    """With the fix, an inference pass before training does not change LoRA gradients."""
    code = """
    import json, qwen3lab as q, torch
    from qwen3lab import backend
    cfg = q.get_config("tiny", use_gradient_checkpointing=False)
    def grads(warm):
        model, tok = q.load_model(cfg)
        batch = tok("a short training example", return_tensors="pt").to(model.device)
        if warm:
            with torch.no_grad():
                model(**batch)
        model = backend.get_peft_model(model, cfg, q.lora_target_modules(model))
        for n, p in model.named_parameters():
            if "lora_B" in n:
                torch.nn.init.normal_(p, std=0.02, generator=torch.Generator().manual_seed(0))
        model(**batch, labels=batch["input_ids"]).loss.backward()
        return torch.cat([p.grad.flatten() for n, p in model.named_parameters() if p.grad is not None])
    a, b = grads(False), grads(True)
    print(json.dumps({"max_diff": (a - b).abs().max().item(), "scale": a.abs().max().item()}))
    """
    result = last_json(run_python(code, env={"QWEN3LAB_BACKEND": "transformers",
                                             "QWEN3LAB_HOME": str(tmp_path / "home")}))
    assert result["max_diff"] <= 1e-6 * max(1.0, result["scale"]), result


def test_keyword_arguments_we_pass_exist_upstream():
    """API drift: an upgrade that renames an argument we pass fails here, on the CPU."""
    from peft import LoraConfig
    from trl import SFTConfig

    lora_fields = set(inspect.signature(LoraConfig).parameters)
    assert {"r", "lora_alpha", "lora_dropout", "bias", "target_modules", "task_type"} <= lora_fields
    sft_fields = set(inspect.signature(SFTConfig).parameters)
    cfg_training = {"per_device_train_batch_size", "gradient_accumulation_steps", "warmup_steps", "max_steps",
                    "learning_rate", "logging_steps", "optim", "weight_decay", "lr_scheduler_type", "seed",
                    "save_steps", "report_to", "dataset_num_proc", "max_length", "dataset_text_field"}
    assert cfg_training <= sft_fields, cfg_training - sft_fields
    assert cfg_training - {"max_length", "dataset_text_field"} <= set(Config().to_dict())
    if backend.unsloth_installed():
        for loader in ("FastLanguageModel", "FastModel"):  # every value of cfg.unsloth_loader
            cls = backend.unsloth_loader(Config(unsloth_loader=loader))
            load = set(inspect.signature(cls.from_pretrained).parameters)
            assert {"model_name", "max_seq_length", "dtype", "load_in_4bit"} <= load, loader
            peft = set(inspect.signature(cls.get_peft_model).parameters)
            assert {"r", "target_modules", "lora_alpha", "lora_dropout", "bias", "use_gradient_checkpointing",
                    "random_state"} <= peft, loader
            assert callable(cls.for_inference) and callable(cls.for_training), loader


@pytest.mark.skipif(backend.cuda_available(), reason="a CPU-only trap: on a GPU the 4-bit layers live in CUDA memory")
def test_trap2_fix_turns_off_cpu_repacking_on_every_4bit_layer(monkeypatch):
    """On a CPU whose bitsandbytes reports avx512_bf16, every Linear4bit must come back with it off."""
    import bitsandbytes.nn.modules as bnb_modules

    monkeypatch.setattr(bnb_modules, "has_avx512bf16", lambda: True)
    cfg = get_config("tiny", backend="transformers")
    from qwen3lab.model import model_source

    model, _ = backend.load_pretrained(cfg, model_source(cfg))
    layers = [m for m in model.modules() if type(m).__name__ == "Linear4bit"]
    assert len(layers) == 7 * cfg.tiny_num_hidden_layers
    assert not any(m.support_avx512bf16_for_cpu for m in layers)
