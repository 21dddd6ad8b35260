"""Serving the exported model: a local server run for the length of a ``with`` block, and the tiny
profile's screen as a grammar a server applies.

``running`` starts a command (08 starts llama-cpp-python's own OpenAI-compatible server,
``python -m llama_cpp.server``), waits until a URL answers, and stops the process and everything it
started when the block ends, also when a cell in it fails or the kernel dies: no server is left
holding the port.

Introduced in 08_export.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .tiny import BENIGN_CHARS, suppressed_token_ids


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (the system picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class Running:
    """A process ``running`` started: its ``Popen``, its log file, and how long it took to answer."""

    process: subprocess.Popen
    log: Path
    ready_s: float

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _die_with_parent() -> None:  # in the child, before exec: SIGTERM when the kernel that started it dies
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


@contextlib.contextmanager
def running(command: list[str], ready: str, timeout: float = 120.0) -> Iterator[Running]:
    """Run ``command`` in the background for the ``with`` block; yield once ``ready`` (a URL)
    answers 200. Its output goes to a log file (``Running.log``). On leaving the block, however it
    is left, the process group gets SIGTERM, then SIGKILL after 5 s; the process also gets SIGTERM
    if this process dies first. Raises ``RuntimeError`` with the log's tail when the process exits
    before it answers or does not answer within ``timeout`` seconds."""
    log = Path(tempfile.mkstemp(prefix="qwen3lab-server-", suffix=".log")[1])
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, preexec_fn=_die_with_parent)
    started = time.perf_counter()
    try:
        while not _answers(ready):
            if process.poll() is not None or time.perf_counter() - started > timeout:
                why = f"exited with {process.returncode}" if process.poll() is not None else \
                    f"did not answer {ready} within {timeout:.0f} s"
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
                raise RuntimeError(f"{command[:3]} {why}; its log ({log}) ends with:\n{tail}")
            time.sleep(0.2)
        yield Running(process, log, time.perf_counter() - started)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError, PermissionError):  # what it started, if it outlived it
        os.killpg(process.pid, signal.SIGKILL)


def _gbnf_char(c: str) -> str:
    return {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(c) or ("\\" + c if c in "\\]^-[" else c)


def screen_grammar(model_dir: str | Path) -> str | None:
    """The tiny model's screen (02_chat_templates) for a server: a GBNF grammar that lets a reply
    hold only ``BENIGN_CHARS``, or None where the model's ``generation_config.json`` suppresses
    nothing (the full profile). llama-cpp-python's server takes it per request
    (``extra_body={"grammar": ...}``); a logits processor, as 08 passes in-process, cannot reach it."""
    if not suppressed_token_ids(model_dir):
        return None
    return "root ::= [" + "".join(_gbnf_char(c) for c in sorted(BENIGN_CHARS)) + "]*"




# -- Ollama: a Modelfile beside the GGUF, and its template rendered as Ollama would ----------------------

#: Qwen3's prompt in Go's text/template (what Ollama's TEMPLATE is), for system, user and assistant
#: turns: the same text as the tokenizer's chat template for them. The generation prompt gets the
#: empty think block when thinking is off: ``THINK_OFF`` always, otherwise when the request says
#: ``think: false`` (Ollama's ``.IsThinkSet`` and ``.Think``).
_TEMPLATE = """{{- range $i, $m := .Messages }}
{{- if eq $m.Role "system" }}<|im_start|>system
{{ $m.Content }}<|im_end|>
{{ else if eq $m.Role "user" }}<|im_start|>user
{{ $m.Content }}<|im_end|>
{{ else if eq $m.Role "assistant" }}<|im_start|>assistant
{{ $m.Content }}<|im_end|>
{{ end }}
{{- end }}<|im_start|>assistant
{{ if THINK_OFF }}<think>

</think>

{{ end }}"""


def ollama_modelfile(gguf_name: str, *, thinking: bool, num_ctx: int) -> str:
    """An Ollama ``Modelfile`` for the GGUF file ``gguf_name`` beside it: Qwen3's template, the two
    stop tokens, and Qwen's sampling for the mode (``SAMPLING``): ``thinking=True`` is the model that
    thinks unless a request says ``think: false``; ``thinking=False`` never thinks. Used with
    ``ollama create <name> -f Modelfile`` in that folder. Introduced in 08_export."""
    from .chat import SAMPLING

    off = "and $.IsThinkSet (not $.Think)" if thinking else "true"
    sampling = SAMPLING[thinking]
    lines = [f"FROM ./{gguf_name}", f'TEMPLATE """{_TEMPLATE.replace("THINK_OFF", off)}"""',
             'PARAMETER stop "<|im_end|>"', 'PARAMETER stop "<|endoftext|>"',
             f"PARAMETER temperature {sampling['temperature']}", f"PARAMETER top_p {sampling['top_p']}",
             f"PARAMETER top_k {sampling['top_k']}", "PARAMETER min_p 0", f"PARAMETER num_ctx {num_ctx}"]
    return "\n".join(lines) + "\n"


def modelfile_template(modelfile: str) -> str:
    """The TEMPLATE of a Modelfile (between its triple quotes)."""
    start = modelfile.index('TEMPLATE """') + len('TEMPLATE """')
    return modelfile[start:modelfile.index('"""', start)]


_ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.DOTALL)


def render_go_template(template: str, messages: list[dict], *, think: bool | None = None) -> str:
    """Render ``template`` as Ollama renders a chat request: ``.Messages`` with ``.Role`` and
    ``.Content``, ``.IsThinkSet`` and ``.Think`` from the request's ``think``. Implements the part of
    Go's text/template the templates here use (trim markers, ``if``/``else if``/``else``/``end``,
    ``range $i, $m := .Messages``, ``eq``/``and``/``or``/``not``, fields, string literals); anything
    else is a ``ValueError``, so a template that grows past it is not rendered wrongly.
    Introduced in 08_export."""
    parts, pos = [], 0
    for m in _ACTION.finditer(template):
        parts += [("text", template[pos:m.start()]), ("action", m.group(2), m.group(1), m.group(3))]
        pos = m.end()
    parts.append(("text", template[pos:]))
    for i, part in enumerate(parts):  # trim markers eat the whitespace beside them
        if part[0] == "action":
            if part[2] and parts[i - 1][0] == "text":
                parts[i - 1] = ("text", parts[i - 1][1].rstrip())
            if part[3] and parts[i + 1][0] == "text":
                parts[i + 1] = ("text", parts[i + 1][1].lstrip())
    tree, rest = _block(parts, 0)
    if rest != len(parts):
        raise ValueError(f"unexpected {parts[rest][1]!r} in the template")
    data = {"Messages": [{"Role": m["role"], "Content": m["content"]} for m in messages],
            "IsThinkSet": think is not None, "Think": bool(think)}
    out: list[str] = []
    _run(tree, {"$": data}, data, out)
    return "".join(out)


def _block(parts, i):
    """Nodes up to an ``end``/``else`` (not consumed): ("text", s) | ("out", expr) | ("if", [(cond, body)..], else)
    | ("range", names, expr, body)."""
    nodes = []
    while i < len(parts):
        kind, text = parts[i][0], parts[i][1]
        if kind == "text":
            nodes.append(("text", text))
            i += 1
        elif text == "end" or text == "else" or text.startswith("else if "):
            return nodes, i
        elif text.startswith("if "):
            branches, otherwise, cond = [], [], text[3:]
            while True:
                body, i = _block(parts, i + 1)
                branches.append((cond, body))
                if i >= len(parts):
                    raise ValueError("an if without its end")
                head = parts[i][1]
                if head.startswith("else if "):
                    cond = head[len("else if "):]
                    continue
                if head == "else":
                    otherwise, i = _block(parts, i + 1)
                    head = parts[i][1] if i < len(parts) else None
                if head != "end":
                    raise ValueError("an if without its end")
                i += 1
                break
            nodes.append(("if", branches, otherwise))
        elif text.startswith("range "):
            m = re.fullmatch(r"range \$(\w+), \$(\w+) := (.+)", text)
            if not m:
                raise ValueError(f"unsupported range: {text!r}")
            body, i = _block(parts, i + 1)
            if i >= len(parts) or parts[i][1] != "end":
                raise ValueError("a range without its end")
            nodes.append(("range", (m.group(1), m.group(2)), m.group(3), body))
            i += 1
        else:
            nodes.append(("out", text))
            i += 1
    return nodes, i


def _run(nodes, variables, dot, out):
    for node in nodes:
        if node[0] == "text":
            out.append(node[1])
        elif node[0] == "out":
            out.append(str(_eval(node[1], variables, dot)))
        elif node[0] == "if":
            for cond, body in node[1]:
                if _eval(cond, variables, dot):
                    _run(body, variables, dot, out)
                    break
            else:
                _run(node[2], variables, dot, out)
        else:
            (index, value), items = node[1], _eval(node[2], variables, dot)
            for n, item in enumerate(items):
                _run(node[3], {**variables, index: n, value: item}, item, out)


def _eval(expr: str, variables, dot):
    tokens = re.findall(r'"(?:[^"\\]|\\.)*"|[()]|[^\s()]+', expr)
    value, rest = _call(tokens, 0, variables, dot)
    if rest != len(tokens):
        raise ValueError(f"unsupported expression: {expr!r}")
    return value


_FUNCTIONS = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "and": lambda *a: all(map(bool, a)),
              "or": lambda *a: any(map(bool, a)), "not": lambda a: not a}  # Go's truth is Python's


def _call(tokens, i, variables, dot):
    if tokens[i] in _FUNCTIONS:
        name, args, i = tokens[i], [], i + 1
        while i < len(tokens) and tokens[i] != ")":
            arg, i = _operand(tokens, i, variables, dot)
            args.append(arg)
        return _FUNCTIONS[name](*args), i
    return _operand(tokens, i, variables, dot)


def _operand(tokens, i, variables, dot):
    token = tokens[i]
    if token == "(":
        value, i = _call(tokens, i + 1, variables, dot)
        if i >= len(tokens) or tokens[i] != ")":
            raise ValueError("unbalanced parentheses")
        return value, i + 1
    if token.startswith('"'):
        return json.loads(token), i + 1
    if token in ("true", "false"):
        return token == "true", i + 1
    if token.startswith("$"):
        name, _, fields = token[1:].partition(".")
        value = variables["$" if not name else name]
        return _fields(value, fields), i + 1
    if token.startswith("."):
        return _fields(dot, token[1:]), i + 1
    raise ValueError(f"unsupported operand: {token!r}")


def _fields(value, path: str):
    for name in filter(None, path.split(".")):
        value = value[name]
    return value


__all__ = ["Running", "free_port", "modelfile_template", "ollama_modelfile", "render_go_template", "running",
           "screen_grammar"]
