"""Panels to play with in JupyterLab: a chat panel over one model or several side by side (02, 06,
07), and a row browser over the training data (03, 04).

The logic lives in pure functions, tested without a browser; the ipywidgets are only the surface,
built where a front end will draw them (``widget_frontend``). Elsewhere (nbval, ``make run``) a
panel's ``show()`` prints what it would show, so executed notebooks hold no undrawable widget models.

Introduced in 02_chat_templates (the chat panel) and 03_dataset_cleaning (the row browser).
"""

from __future__ import annotations

import html
import importlib.util
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from .chat import SAMPLING, split_thinking
from .evaluate import text_messages
from .train import IGNORE_INDEX, label_spans

#: ``widgets`` (or 1) draws the widgets, ``print`` (or 0) prints, whatever ``widget_frontend`` finds.
#: Not ``QWEN3LAB_...``: that prefix names config fields.
PANELS_ENV = "QWEN3_PANELS"
DEFAULT_PROMPT = "你好，好久不见！"
#: The chat panel's sliders: (min, max, step); ``max_new_tokens`` goes up to 4x the config's value.
SLIDERS: dict[str, tuple[float, float, float]] = {
    "temperature": (0.05, 1.5, 0.05), "top_p": (0.05, 1.0, 0.05), "top_k": (1, 100, 1)}
_REFRESH_S = 0.1  # how often a streaming reply is redrawn


def widget_frontend() -> bool:
    """Whether a front end will draw this process's widgets: True in a kernel a Jupyter server started
    (it sets ``JPY_SESSION_NAME``) or in Colab, False under nbclient, plain Python or without
    ipywidgets; ``QWEN3_PANELS`` overrides. Introduced in 02_chat_templates."""
    forced = os.environ.get(PANELS_ENV, "").strip().lower()
    if forced in ("widgets", "1", "print", "0"):
        return forced in ("widgets", "1")
    if importlib.util.find_spec("ipywidgets") is None or "IPython" not in sys.modules:
        return False
    kernel = getattr(sys.modules["IPython"].get_ipython(), "kernel", None)
    return kernel is not None and (bool(os.environ.get("JPY_SESSION_NAME")) or "google.colab" in sys.modules)


def _display(obj) -> None:
    from IPython.display import display

    display(obj)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width] + " ..."


def _short(value: Any, width: int) -> str:
    """``repr(value)``, a string cut to ``width`` characters first (anything else after)."""
    return repr(_cut(value, width)) if isinstance(value, str) else _cut(repr(value), width)


def chat_presets(cfg, enable_thinking: bool) -> dict[str, float | int]:
    """Where a chat panel's sliders start for a mode: ``SAMPLING`` and ``cfg.max_new_tokens`` (or
    ``cfg.max_new_tokens_thinking``). Introduced in 02_chat_templates."""
    max_new_tokens = cfg.max_new_tokens_thinking if enable_thinking else cfg.max_new_tokens
    return {**SAMPLING[bool(enable_thinking)], "max_new_tokens": max_new_tokens}


def reply_plain(text: str) -> str:
    """A reply as two ``repr`` lines, thinking then answer. Introduced in 02_chat_templates."""
    thinking, answer = split_thinking(text)
    return f"thinking: {thinking!r}\nanswer  : {answer!r}"


def reply_html(text: str) -> str:
    """A reply (also a half-written one) as HTML, the thinking in a grey box apart from the answer.
    Introduced in 02_chat_templates."""
    thinking, answer = split_thinking(text)
    none = '<i style="color:#999">（无 none）</i>'
    pre = "white-space:pre-wrap;word-break:break-word;margin:2px 0;font-size:0.95em"
    return (f'<div class="qwen3lab-thinking" style="background:#f3f3f3;color:#555;padding:4px 8px;'
            f'border-left:3px solid #bbb;margin-bottom:6px"><b>思考（thinking）</b>'
            f'<pre style="{pre}">{html.escape(thinking) or none}</pre></div>'
            f'<div class="qwen3lab-answer" style="padding:4px 8px;border-left:3px solid #4a90d9">'
            f'<b>回答（answer）</b><pre style="{pre}">{html.escape(answer) or none}</pre></div>')


def stream_reply(model, tokenizer, messages: list[dict[str, Any]], *, enable_thinking: bool,
                 max_new_tokens: int, temperature: float, top_p: float, top_k: int, seed: int | None = 3407,
                 adapter: bool = True) -> Iterator[str]:
    """The reply to ``messages``, piece by piece as ``generate`` writes it in a thread (notebook 02's
    streaming cell); with the same seed the pieces join into ``chat.reply``'s text. ``adapter=False``
    switches a PEFT model's adapter off. An exception in ``generate`` is raised here.
    Introduced in 06_saving_and_chat."""
    import threading

    import torch
    from transformers import TextIteratorStreamer

    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                         enable_thinking=enable_thinking)
    inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False).to(model.device)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    failed: list[BaseException] = []

    def run() -> None:
        try:
            with nullcontext() if adapter else model.disable_adapter(), torch.no_grad():
                if seed is not None:
                    torch.manual_seed(seed)
                model.generate(**inputs, streamer=streamer, max_new_tokens=max_new_tokens, do_sample=True,
                               temperature=temperature, top_p=top_p, top_k=top_k,
                               pad_token_id=tokenizer.pad_token_id)
        except BaseException as err:  # noqa: BLE001  (handed to the reading thread below)
            failed.append(err)
            streamer.end()

    thread = threading.Thread(target=run, name="qwen3lab-generate", daemon=True)
    thread.start()
    yield from streamer
    thread.join()
    if failed:
        raise failed[0]


Stream = Callable[..., Iterable[str]]


class ChatPanel:
    """A prompt box, a thinking switch, sliders (``chat_presets``), a send button and one streamed
    reply per model, side by side, thinking shown apart from the answer.

    ``models`` maps a column title to ``(messages, *, enable_thinking, max_new_tokens, temperature,
    top_p, top_k) -> text pieces`` (notebook 02's ``stream``, or ``partial(stream_reply, model,
    tokenizer)``); a single function gives one column. ``send``, ``set_thinking`` and ``settings``
    drive it from code. Introduced in 02_chat_templates; 06 puts three models side by side."""

    def __init__(self, models: Mapping[str, Stream] | Stream, cfg, *, prompt: str = DEFAULT_PROMPT,
                 enable_thinking: bool = False):
        self.models = {"reply": models} if callable(models) else dict(models)
        if not self.models:
            raise ValueError("ChatPanel needs at least one model: {title: stream function}")
        self.cfg, self.prompt = cfg, prompt
        self.enable_thinking = bool(enable_thinking)
        self.sampling = chat_presets(cfg, self.enable_thinking)
        self.replies = {name: "" for name in self.models}
        self.exchanges = 0
        self.status = "ready"
        self._w: dict[str, Any] | None = None
        self._drawn = 0.0

    def settings(self) -> dict[str, Any]:
        """What the next reply is generated with."""
        return {"enable_thinking": self.enable_thinking, **self.sampling}

    def set_thinking(self, on: bool) -> None:
        """Switch the thinking mode; the sliders return to that mode's presets."""
        self.enable_thinking = bool(on)
        self.sampling = chat_presets(self.cfg, self.enable_thinking)
        if self._w is not None:
            self._w["thinking"].value = self.enable_thinking
            for name, value in self.sampling.items():
                self._w[name].value = value

    def send(self, prompt: str | None = None) -> dict[str, str]:
        """Ask ``prompt`` (default: the prompt box), every model in turn; returns the replies by title."""
        if prompt is not None:
            self.prompt = prompt
            if self._w is not None:
                self._w["prompt"].value = prompt
        messages = [{"role": "user", "content": self.prompt}]
        started = time.perf_counter()
        for name, stream in self.models.items():
            self.replies[name] = ""
            self._set_status(html.escape(f"生成中（generating）: {name} ..."))
            for piece in stream(messages, **self.settings()):
                self.replies[name] += piece
                self._redraw(name)
            self._redraw(name, force=True)
        self.exchanges += 1
        seconds = time.perf_counter() - started
        self._set_status(html.escape(f"完成（done）#{self.exchanges}: {_short(self.prompt, 40)}, "
                                     f"{seconds:.1f} s, enable_thinking={self.enable_thinking}"))
        return dict(self.replies)

    def plain(self) -> str:
        """What the panel shows, as text: the settings, the prompt and each model's reply."""
        lines = [f"prompt: {self.prompt!r}", "  ".join(f"{k}={v}" for k, v in self.settings().items())]
        for name, text in self.replies.items():
            lines += [f"[{name}] {line}" for line in reply_plain(text).splitlines()]
        return "\n".join(lines)

    def show(self) -> None:
        """The panel where a front end draws widgets; elsewhere the reply to the prompt, printed."""
        if widget_frontend():
            _display(self.widget)
        else:
            print("(no widget front end: the panel's reply to its prompt, printed)")
            self.send()
            print(self.plain())

    @property
    def widget(self):
        """The ipywidgets box (built on first use)."""
        if self._w is not None:
            return self._w["box"]
        import ipywidgets as w

        top = max(4 * self.cfg.max_new_tokens_thinking, self.cfg.max_new_tokens)
        style = {"description_width": "125px"}
        ww: dict[str, Any] = {
            "prompt": w.Textarea(value=self.prompt, placeholder="输入问题（your question）",
                                 layout=w.Layout(width="98%", height="4.5em")).add_class("qwen3lab-prompt"),
            "thinking": w.Checkbox(value=self.enable_thinking, description="思考模式（enable_thinking）",
                                   indent=False).add_class("qwen3lab-thinking-switch"),
            "send": w.Button(description="发送（send）", button_style="primary").add_class("qwen3lab-send"),
            "status": w.HTML(value=self.status).add_class("qwen3lab-status"),
        }
        for name, value in self.sampling.items():
            low, high, step = SLIDERS.get(name, (1, top, 1))
            slider = w.IntSlider if isinstance(value, int) else w.FloatSlider
            ww[name] = slider(value=value, min=low, max=high, step=step, description=name, style=style,
                              continuous_update=False).add_class(f"qwen3lab-{name}")
            ww[name].observe(lambda change, name=name: self.sampling.__setitem__(name, change["new"]),
                             names="value")
        columns = []
        for i, name in enumerate(self.models):
            ww[f"reply:{name}"] = w.HTML(value=reply_html(self.replies[name])).add_class("qwen3lab-reply")
            columns.append(w.VBox([w.HTML(f"<b>{html.escape(name)}</b>"), ww[f"reply:{name}"]],
                                  layout=w.Layout(flex="1 1 0", min_width="0", padding="0 6px")
                                  ).add_class(f"qwen3lab-column-{i}"))
        sliders = [ww[name] for name in self.sampling]
        ww["box"] = w.VBox([ww["prompt"], w.HBox([ww["thinking"], ww["send"]]),
                            w.HBox([w.VBox(sliders[:2]), w.VBox(sliders[2:])]), ww["status"],
                            w.HBox(columns, layout=w.Layout(width="100%"))]).add_class("qwen3lab-chat-panel")
        self._w = ww
        ww["prompt"].observe(lambda change: setattr(self, "prompt", change["new"]), names="value")
        ww["thinking"].observe(lambda change: self.set_thinking(change["new"]), names="value")
        ww["send"].on_click(self._clicked)
        return ww["box"]

    def _clicked(self, _button=None) -> None:
        # a callback's exception would only reach JupyterLab's log console: show it in the panel
        self._w["send"].disabled = True
        try:
            self.send()
        except Exception as err:  # noqa: BLE001
            self._set_status(f"出错（error）: {html.escape(type(err).__name__)}: {html.escape(str(err))}")
        finally:
            self._w["send"].disabled = False

    def _set_status(self, text: str) -> None:
        self.status = text
        if self._w is not None:
            self._w["status"].value = text

    def _redraw(self, name: str, force: bool = False) -> None:
        if self._w is None or not (force or time.perf_counter() - self._drawn > _REFRESH_S):
            return
        self._w[f"reply:{name}"].value = reply_html(self.replies[name])
        self._drawn = time.perf_counter()


@dataclass
class RowSource:
    """One data set for a row browser, every sequence in the same row order: the templated texts and,
    where known, the raw records and conversations (lists, a ``Dataset`` or its columns).
    Introduced in 03_dataset_cleaning."""

    texts: Sequence[str]
    records: Sequence[Mapping[str, Any]] | None = None
    conversations: Sequence[list[dict[str, Any]]] | None = None

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class RowView:
    """One row as a row browser shows it; ``spans`` are (trained, text) pieces in order.
    Introduced in 03_dataset_cleaning."""

    source: str
    index: int
    record: dict[str, Any] | None
    conversation: list[dict[str, Any]]
    text: str
    n_tokens: int
    trained_tokens: int
    spans: list[tuple[bool, str]]


def token_spans(tokenizer, text: str,
                labels_fn: Callable | None = None) -> tuple[int, int, list[tuple[bool, str]]]:
    """(tokens, trained tokens, (trained, text) pieces) of ``text`` tokenized as the trainer does.
    ``labels_fn`` maps ``{"input_ids": [ids]}`` to ``{"labels": [...]}`` like the function of Unsloth's
    ``train_on_responses_only(..., return_function=True)``; without it every token is trained.
    Introduced in 03_dataset_cleaning."""
    ids = tokenizer(text)["input_ids"]
    labels = labels_fn({"input_ids": [ids]})["labels"][0] if labels_fn is not None else ids
    trained = sum(int(label) != IGNORE_INDEX for label in labels)
    return len(ids), trained, label_spans(tokenizer, ids, labels)


def row_view(tokenizer, source: RowSource, index: int, *, labels_fn: Callable | None = None,
             name: str = "") -> RowView:
    """Row ``index`` of ``source`` (its conversation parsed back from the text where the source has
    none), with its token counts (``token_spans``). Introduced in 03_dataset_cleaning."""
    if not 0 <= index < len(source):
        raise IndexError(f"row {index} of {name or 'the source'}: it has rows 0 to {len(source) - 1}")
    text = source.texts[index]
    record = dict(source.records[index]) if source.records is not None else None
    conversation = text_messages(text) if source.conversations is None else list(source.conversations[index])
    return RowView(name, index, record, conversation, text, *token_spans(tokenizer, text, labels_fn))


def row_plain(view: RowView, width: int = 100) -> str:
    """A row view as text: counts, record fields, turns and [+] trained / [-] masked pieces, each cut
    to ``width`` characters. Introduced in 03_dataset_cleaning."""
    lines = [f"{view.source} row {view.index}: {view.n_tokens} tokens, {view.trained_tokens} trained"]
    lines += [f"  record  {key:<18} {_short(value, width)}" for key, value in (view.record or {}).items()]
    lines += [f"  turn    {turn.get('role', '?'):<18} {_short(turn.get('content'), width)}"
              for turn in view.conversation]
    lines += [f"  {'[+]' if trained else '[-]'}     {_short(text, width)}" for trained, text in view.spans]
    return "\n".join(lines)


_TRAINED, _MASKED = "background:#c9f0c9", "color:#888"


def row_html(view: RowView, width: int = 600) -> str:
    """A row view as HTML, the trained tokens on green. Introduced in 03_dataset_cleaning."""
    esc = html.escape
    cell = 'style="text-align:left;vertical-align:top;padding:1px 8px"'

    def rows(pairs, wrap) -> str:
        return "".join(f"<tr><th {cell}>{esc(str(k))}</th><td {cell}>{wrap(esc(_cut(v, width)))}</td></tr>"
                       for k, v in pairs)

    record = rows(((k, v if isinstance(v, str) else repr(v)) for k, v in (view.record or {}).items()),
                  lambda v: f"<code>{v}</code>")
    turns = rows(((t.get("role"), str(t.get("content"))) for t in view.conversation),
                 lambda v: f"<pre style='white-space:pre-wrap;margin:0'>{v}</pre>")
    text = "".join(f'<span class="qwen3lab-{"trained" if keep else "masked"}" '
                   f'style="{_TRAINED if keep else _MASKED}">{esc(t)}</span>' for keep, t in view.spans)
    share = view.trained_tokens / view.n_tokens if view.n_tokens else 0.0
    parts = [f'<p class="qwen3lab-row-counts"><b>{esc(view.source)} row {view.index}</b>: '
             f"{view.n_tokens} tokens, {view.trained_tokens} trained ({share:.0%})</p>"]
    if view.record is not None:
        parts.append(f"<b>原始记录（raw record）</b><table>{record}</table>")
    parts += [f"<b>对话（conversation）</b><table>{turns}</table>",
              f'<b>模板文本（templated text）</b>: <span style="{_TRAINED}">绿色 = 计算损失（trained）</span>, '
              f'<span style="{_MASKED}">灰色 = 不计算（masked）</span>',
              f'<pre style="white-space:pre-wrap;word-break:break-word">{text}</pre>']
    return f'<div class="qwen3lab-row">{"".join(parts)}</div>'


class RowBrowser:
    """Pick a data set (``sources``: name -> ``RowSource``) and a row; see its record, conversation,
    templated text and trained tokens (``labels_fn``: see ``token_spans``). ``view(source, index)``
    gives the same from code. Introduced in 03_dataset_cleaning; 04 browses the mixed training set."""

    def __init__(self, tokenizer, sources: Mapping[str, RowSource], *, labels_fn: Callable | None = None):
        if not sources:
            raise ValueError("RowBrowser needs at least one source: {name: RowSource(texts=...)}")
        self.tokenizer, self.sources, self.labels_fn = tokenizer, dict(sources), labels_fn
        self._w: dict[str, Any] | None = None

    def view(self, source: str | None = None, index: int = 0) -> RowView:
        """Row ``index`` of ``source`` (default: the first source)."""
        source = next(iter(self.sources)) if source is None else source
        if source not in self.sources:
            raise KeyError(f"no source {source!r}: the browser has {list(self.sources)}")
        return row_view(self.tokenizer, self.sources[source], index, labels_fn=self.labels_fn, name=source)

    def show(self) -> None:
        """The browser where a front end draws widgets; elsewhere the first row of each source, printed."""
        if widget_frontend():
            _display(self.widget)
        else:
            print("(no widget front end: the first row of each source, printed)")
            print("\n\n".join(row_plain(self.view(name, 0)) for name in self.sources))

    @property
    def widget(self):
        """The ipywidgets box (built on first use)."""
        if self._w is None:
            import ipywidgets as w

            first = next(iter(self.sources))
            ww = {"source": w.Dropdown(options=list(self.sources), value=first, description="数据（source）",
                                       style={"description_width": "110px"}).add_class("qwen3lab-row-source"),
                  "row": w.IntSlider(value=0, min=0, max=max(len(self.sources[first]) - 1, 0),
                                     description="行（row）", continuous_update=False,
                                     style={"description_width": "110px"}).add_class("qwen3lab-row-index"),
                  "body": w.HTML(value=row_html(self.view(first, 0))).add_class("qwen3lab-row-body")}
            ww["box"] = w.VBox([w.HBox([ww["source"], ww["row"]]), ww["body"]]
                               ).add_class("qwen3lab-row-browser")
            self._w = ww
            ww["source"].observe(self._source_changed, names="value")
            ww["row"].observe(lambda change: self._draw(), names="value")
        return self._w["box"]

    def _source_changed(self, change) -> None:
        row = self._w["row"]
        row.value = 0
        row.max = max(len(self.sources[change["new"]]) - 1, 0)
        self._draw()

    def _draw(self) -> None:
        self._w["body"].value = row_html(self.view(self._w["source"].value, self._w["row"].value))


__all__ = ["ChatPanel", "DEFAULT_PROMPT", "RowBrowser", "RowSource", "RowView", "PANELS_ENV", "SLIDERS",
           "chat_presets", "reply_html", "reply_plain", "row_html", "row_plain", "row_view", "stream_reply",
           "token_spans", "widget_frontend"]
