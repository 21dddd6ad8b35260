"""Guards the panels' logic without a browser: the sliders' presets per thinking mode, a reply split
into thinking and answer as the panel draws it (also half written), the streamed reply equal to
``chat.reply``'s, the widgets wired to the state (switching thinking resets the sliders, the send
button streams every model's reply in), which tokens the row browser marks as trained (Unsloth's own
masking function), and the plain printed output where no widget front end is present, so that
nbval and the headless runner never store widget models."""

from __future__ import annotations

from functools import partial

import pytest

from qwen3lab.chat import SAMPLING, reply
from qwen3lab.config import get_config
from qwen3lab.panels import (ChatPanel, RowBrowser, RowSource, chat_presets, reply_html, reply_plain, row_html,
                             row_plain, row_view, stream_reply, text_messages, token_spans, widget_frontend)
from qwen3lab.tiny import load_qwen3_tokenizer

CFG = get_config("tiny")
HELLO = [{"role": "user", "content": "你好，好久不见！"}]
TRAINED_ROW = [{"role": "user", "content": "1+1 等于几？"},
               {"role": "assistant", "content": "<think>\n两个一相加。\n</think>\n\n等于 2。"}]


@pytest.fixture(scope="module")
def tokenizer():
    return load_qwen3_tokenizer()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from qwen3lab.tiny import build_tiny_model

    path = build_tiny_model(CFG, tmp_path_factory.mktemp("tiny") / "model")
    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def fake_stream(pieces, calls=None):
    def stream(messages, **settings):
        if calls is not None:
            calls.append((messages, settings))
        yield from pieces
    return stream


# -- the chat panel's logic --------------------------------------------------------------------------

def test_presets_are_qwens_values_and_the_configs_lengths():
    assert chat_presets(CFG, True) == {**SAMPLING[True], "max_new_tokens": CFG.max_new_tokens_thinking}
    assert chat_presets(CFG, False) == {"temperature": 0.7, "top_p": 0.8, "top_k": 20,
                                        "max_new_tokens": CFG.max_new_tokens}


def test_reply_is_drawn_with_thinking_apart_and_escaped():
    page = reply_html("<think>\n想一想 <b>\n</think>\n\n你好！")
    thinking_at, answer_at = page.index('class="qwen3lab-thinking"'), page.index('class="qwen3lab-answer"')
    assert thinking_at < page.index("想一想 &lt;b&gt;") < answer_at < page.index("你好！") and "<b>\n" not in page
    half = reply_html("<think>\n还没想完")  # while streaming: unclosed, all thinking so far
    before_answer, answer = half.split('class="qwen3lab-answer"')
    assert "还没想完" in before_answer and "（无 none）" in answer
    assert reply_plain("<think>\n\n</think>\n\n好") == "thinking: ''\nanswer  : '好'"


def test_panel_sends_to_every_model_with_the_current_settings():
    calls = []
    panel = ChatPanel({"a": fake_stream(["<think>x</think>", "答"], calls), "b": fake_stream(["b1", "b2"])}, CFG)
    assert panel.settings() == {"enable_thinking": False, **chat_presets(CFG, False)}
    panel.set_thinking(True)
    replies = panel.send("1+1?")
    assert replies == {"a": "<think>x</think>答", "b": "b1b2"} and panel.exchanges == 1
    assert calls == [([{"role": "user", "content": "1+1?"}], {"enable_thinking": True, **chat_presets(CFG, True)})]
    assert panel.status.startswith("完成（done）#1") and "enable_thinking=True" in panel.status
    assert "[a] thinking: 'x'" in panel.plain() and "[b] answer  : 'b1b2'" in panel.plain()
    with pytest.raises(ValueError, match="at least one model"):
        ChatPanel({}, CFG)


def test_widgets_follow_the_state_and_the_button_streams_replies():
    calls = []
    panel = ChatPanel(fake_stream(["<think>想</think>", "回", "答"], calls), CFG)
    ww = panel.widget and panel._w
    assert (ww["temperature"].value, ww["top_p"].value, ww["max_new_tokens"].value) == (0.7, 0.8, CFG.max_new_tokens)
    ww["thinking"].value = True  # the switch resets the sliders to thinking mode's values
    assert (ww["temperature"].value, ww["top_p"].value, ww["top_k"].value, ww["max_new_tokens"].value) == \
        (0.6, 0.95, 20, CFG.max_new_tokens_thinking)
    ww["top_k"].value = 5  # a slider moved by hand is what the next reply uses
    ww["prompt"].value = "再乘以 3 呢？"
    ww["send"].click()
    assert calls[-1][0][0]["content"] == "再乘以 3 呢？" and calls[-1][1]["top_k"] == 5
    drawn = ww["reply:reply"].value
    assert "想" in drawn.split("qwen3lab-answer")[0] and "回答" in drawn.split("qwen3lab-answer")[1]
    assert ww["status"].value.startswith("完成（done）#1") and not ww["send"].disabled


def test_an_error_while_generating_shows_in_the_panel():
    def broken(messages, **settings):
        raise RuntimeError("out of memory")
        yield  # pragma: no cover

    panel = ChatPanel(broken, CFG)
    panel.widget
    panel._w["send"].click()
    assert "RuntimeError: out of memory" in panel.status and not panel._w["send"].disabled


def test_stream_reply_joins_into_the_same_text_as_reply(tiny):
    model, tokenizer = tiny
    settings = {"enable_thinking": False, **chat_presets(CFG, False)}
    pieces = list(stream_reply(model, tokenizer, HELLO, **settings))
    assert len(pieces) > 1  # streamed, not one block
    assert "".join(pieces) == reply(model, tokenizer, HELLO, enable_thinking=False, max_new_tokens=CFG.max_new_tokens)


def test_stream_reply_raises_what_generate_raised(tiny):
    model, tokenizer = tiny
    with pytest.raises(ValueError, match="temperature"):
        list(stream_reply(model, tokenizer, HELLO, enable_thinking=False, max_new_tokens=4, temperature=-1.0,
                          top_p=0.8, top_k=20))


def test_side_by_side_panel_over_a_model_with_and_without_its_adapter(tiny):
    from peft import LoraConfig, get_peft_model

    model, tokenizer = tiny
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj"], init_lora_weights=False))
    panel = ChatPanel({"before (base)": partial(stream_reply, peft_model, tokenizer, adapter=False),
                       "after (adapter)": partial(stream_reply, peft_model, tokenizer)}, CFG)
    replies = panel.send()
    with peft_model.disable_adapter():
        base = reply(peft_model, tokenizer, HELLO, enable_thinking=False, max_new_tokens=CFG.max_new_tokens)
    assert replies["before (base)"] == base != replies["after (adapter)"]
    peft_model.unload()


# -- the row browser ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def labels_fn(tokenizer):
    from unsloth.chat_templates import train_on_responses_only

    return train_on_responses_only(None, instruction_part="<|im_start|>user\n",
                                   response_part="<|im_start|>assistant\n", tokenizer=tokenizer,
                                   return_function=True)


def test_trained_tokens_are_the_assistants_reply_to_its_end_token(tokenizer, labels_fn):
    text = tokenizer.apply_chat_template(TRAINED_ROW, tokenize=False)
    n, trained, spans = token_spans(tokenizer, text, labels_fn)
    assert n == len(tokenizer(text)["input_ids"]) and 0 < trained < n
    assert [keep for keep, _ in spans] == [False, True, False]
    assert spans[0][1].endswith("<|im_start|>assistant\n") and spans[1][1].startswith("<think>")
    assert spans[1][1].endswith("等于 2。<|im_end|>") and spans[2][1] == "\n"
    assert token_spans(tokenizer, text)[1:] == (n, [(True, text)])  # no masking: every token is trained


def test_row_view_reads_one_row_and_parses_a_conversation_back(tokenizer, labels_fn):
    text = tokenizer.apply_chat_template(TRAINED_ROW, tokenize=False)
    source = RowSource(texts=[text], records=[{"problem": "1+1 等于几？", "expected_answer": "2"}])
    view = row_view(tokenizer, source, 0, labels_fn=labels_fn, name="reasoning")
    assert view.record == {"problem": "1+1 等于几？", "expected_answer": "2"} and view.text == text
    assert view.conversation == text_messages(text) == [
        {"role": "user", "content": "1+1 等于几？"},
        {"role": "assistant", "content": "<think>\n两个一相加。\n</think>\n\n等于 2。"}]
    with pytest.raises(IndexError, match="row 1 of reasoning: it has rows 0 to 0"):
        row_view(tokenizer, source, 1, name="reasoning")
    page, plain = row_html(view), row_plain(view)
    assert f"{view.n_tokens} tokens, {view.trained_tokens} trained" in page and "qwen3lab-trained" in page
    assert plain.splitlines()[0] == f"reasoning row 0: {view.n_tokens} tokens, {view.trained_tokens} trained"
    assert "  [+]     '<think>\\n两个一相加。\\n</think>\\n\\n等于 2。<|im_end|>'" in plain


def test_row_browser_widgets_switch_sources_and_rows(tokenizer, labels_fn):
    texts = [tokenizer.apply_chat_template([{"role": "user", "content": f"问题 {i}"},
                                            {"role": "assistant", "content": f"回答 {i}"}], tokenize=False)
             for i in range(3)]
    browser = RowBrowser(tokenizer, {"chat": RowSource(texts), "short": RowSource(texts[:1])}, labels_fn=labels_fn)
    ww = browser.widget and browser._w
    assert ww["row"].max == 2 and "回答 0" in ww["body"].value
    ww["row"].value = 2
    assert "回答 2" in ww["body"].value and "chat row 2" in ww["body"].value
    ww["source"].value = "short"
    assert (ww["row"].value, ww["row"].max) == (0, 0) and "short row 0" in ww["body"].value
    with pytest.raises(KeyError, match="no source 'other'"):
        browser.view("other")


# -- no front end: plain output ------------------------------------------------------------------------

def test_front_end_is_found_from_the_kernels_environment(monkeypatch):
    monkeypatch.delenv("QWEN3_PANELS", raising=False)
    assert widget_frontend() is False  # plain Python: no kernel
    monkeypatch.setenv("QWEN3_PANELS", "widgets")
    assert widget_frontend() is True
    monkeypatch.setenv("QWEN3_PANELS", "print")
    assert widget_frontend() is False
    monkeypatch.setenv("QWEN3_PANELS", "")
    monkeypatch.setenv("JPY_SESSION_NAME", "/srv/02.ipynb")  # a Jupyter server's kernel, but no IPython here
    assert widget_frontend() is False


def test_without_a_front_end_panels_print(monkeypatch, capsys, tokenizer):
    monkeypatch.setenv("QWEN3_PANELS", "print")
    panel = ChatPanel(fake_stream(["你好"]), CFG)
    panel.show()
    out = capsys.readouterr().out
    assert "no widget front end" in out and "[reply] answer  : '你好'" in out and panel._w is None
    RowBrowser(tokenizer, {"chat": RowSource(["<|im_start|>user\n嗨<|im_end|>\n"])}).show()
    assert "chat row 0:" in capsys.readouterr().out


def test_with_a_front_end_panels_display_their_widgets(monkeypatch):
    shown = []
    monkeypatch.setenv("QWEN3_PANELS", "widgets")
    monkeypatch.setattr("qwen3lab.panels._display", shown.append)
    panel = ChatPanel(fake_stream(["x"]), CFG)
    panel.show()
    assert shown == [panel.widget] and panel.exchanges == 0  # nothing generated until asked
