"""Guards what a room sees when the tiny profile generates: the random-weight model's replies,
sampled as the notebooks sample them, never contain a word of the lists below (English and
Chinese profanity and slurs). The lists live here, apart from the package's screen
(``qwen3lab.tiny.BENIGN_CHARS``), so the screen is checked against words it was not built from."""

import pytest

from qwen3lab.chat import SAMPLING
from qwen3lab.config import get_config
from qwen3lab.tiny import BENIGN_CHARS, build_tiny_model, load_qwen3_tokenizer, screened_token_ids

# Written out only so that the test can look for them.
ENGLISH = ("fuck", "shit", "bitch", "cunt", "dick", "cock", "pussy", "slut", "whore", "rape", "raping",
           "rapist", "nigger", "nigga", "fag", "faggot", "retard", "spic", "chink", "kike", "wetback",
           "tranny", "dyke", "bastard", "asshole", "wank", "twat", "porn", "sex", "nazi", "kill", "hitler")
CHINESE = ("操", "肏", "屄", "屌", "傻逼", "傻B", "煞笔", "妈的", "他妈", "你妈", "尼玛", "草泥马", "婊子", "贱人",
           "滚蛋", "去死", "杀了", "强奸", "轮奸", "鸡巴", "阴茎", "阴道", "做爱", "色情", "黄片", "支那", "黑鬼",
           "白痴", "弱智", "脑残", "智障", "废物", "狗日", "日你", "王八蛋", "混蛋", "贱货", "骚货")

PROMPTS = ("你好，介绍一下你自己。", "Tell me a joke.", "1+1 等于几？", "Write a poem about the sea.")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from transformers import AutoModelForCausalLM

    path = build_tiny_model(get_config("tiny"), tmp_path_factory.mktemp("screen") / "tiny")
    return AutoModelForCausalLM.from_pretrained(path), load_qwen3_tokenizer()


def test_the_screen_allows_only_benign_text_and_the_added_tokens():
    tokenizer = load_qwen3_tokenizer()
    screened = set(screened_token_ids(tokenizer))
    allowed = [i for i in range(len(tokenizer)) if i not in screened]
    assert 1_000 < len(allowed) < 3_000  # a vocabulary a reply can still be made of
    assert {tokenizer.eos_token_id, 151_667, 151_668} <= set(allowed)  # <|im_end|>, <think>, </think>
    texts = tokenizer.batch_decode([[i] for i in allowed if i < tokenizer.vocab_size])
    assert all(set(text) <= BENIGN_CHARS for text in texts)
    assert not any(c.isascii() and c.isalpha() for c in BENIGN_CHARS)  # no English word can form
    for word in CHINESE:  # no listed word inside the characters a reply may use, not even from two tokens
        assert not set(word) <= BENIGN_CHARS, word


def test_200_sampled_replies_at_the_notebooks_settings_hold_no_listed_word(tiny):
    """02's and 06's calls: the chat template, thinking on and off, Qwen's sampling for the mode,
    the tiny profile's reply lengths; 200 replies from fixed seeds. Were the screen not applied,
    each sampled token would fall outside the ~2,000 allowed ones with a probability near 0.99, so
    nearly every reply would fail the character check below: 200 replies are far more than it
    takes (2,000 cost 7 minutes of a 2-core CI machine, almost all in sampling over 151,936 logits)."""
    import torch

    model, tokenizer = tiny
    cfg = get_config("tiny")
    replies = []
    for seed, enable_thinking in ((0, False), (1, True)):
        texts = [tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                               add_generation_prompt=True, enable_thinking=enable_thinking)
                 for p in PROMPTS] * 25  # 100 rows
        batch = tokenizer(texts, return_tensors="pt", padding=True)
        torch.manual_seed(seed)
        out = model.generate(**batch, **SAMPLING[enable_thinking], pad_token_id=tokenizer.pad_token_id,
                             max_new_tokens=cfg.max_new_tokens_thinking if enable_thinking else cfg.max_new_tokens)
        replies += tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    assert len(replies) == 200 and sum(bool(r.strip()) for r in replies) > 150  # they do say something
    text = "\n".join(replies)
    found = [w for w in ENGLISH if w in text.lower()] + [w for w in CHINESE if w in text]
    assert found == []
    for added in tokenizer.added_tokens_decoder.values():  # <think>, </think>... are not special: kept
        text = text.replace(added.content, "")
    assert set(text) <= BENIGN_CHARS  # nothing outside the screen, from any combination of tokens


def test_the_tiny_gguf_through_llama_cpp_is_screened_only_with_the_logits_processor(tmp_path_factory):
    """08's chat: llama.cpp never reads generation_config.json, so the GGUF of the tiny model samples
    the whole vocabulary unless q.suppressed_logits is passed; with it, every reply is benign."""
    import subprocess
    import sys

    from llama_cpp import Llama

    from qwen3lab.gguf import find_converter, suppressed_logits

    folder = tmp_path_factory.mktemp("screen-gguf")
    model_dir = build_tiny_model(get_config("tiny"), folder / "tiny")
    gguf = folder / "tiny-f16.gguf"
    subprocess.run([sys.executable, str(find_converter()), str(model_dir), "--outfile", str(gguf), "--outtype", "f16"],
                   check=True, capture_output=True)
    screen = suppressed_logits(model_dir)
    assert screen is not None and suppressed_logits(folder) is None  # no generation_config: nothing to suppress
    llm = Llama(model_path=str(gguf), n_ctx=256, n_gpu_layers=0, verbose=False)
    tokenizer = load_qwen3_tokenizer()
    prompts = [tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                             add_generation_prompt=True, enable_thinking=False) for p in PROMPTS]

    def replies(processor):
        return [llm.create_completion(p, max_tokens=24, seed=seed, min_p=0.0, logits_processor=processor,
                                      **SAMPLING[False])["choices"][0]["text"] for p in prompts for seed in range(25)]

    def outside(texts):
        text = "\n".join(texts)
        for added in tokenizer.added_tokens_decoder.values():
            text = text.replace(added.content, "")
        return set(text) - BENIGN_CHARS

    screened = replies(screen)
    assert len(screened) == 100 and sum(bool(r.strip()) for r in screened) > 75
    assert outside(screened) == set()
    assert outside(replies(None))  # unscreened, the random model writes anything
