"""Serving the exported model (08): a local server run for the length of a ``with`` block, the tiny
profile's screen as a grammar a server applies, and an Ollama Modelfile checked against the
tokenizer's chat template. Introduced in 08_export.
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
    answers 200. Its output goes to ``Running.log``. However the block is left, the process group
    gets SIGTERM, then SIGKILL after 5 s; the process also gets SIGTERM if this process dies first,
    so no server is left holding the port. Raises ``RuntimeError`` with the log's tail when the
    process exits before it answers or does not answer within ``timeout`` seconds."""
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
    finally:  # the second signal also reaches what the process started, if that outlived it
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)


def _gbnf_char(c: str) -> str:
    return {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(c) or ("\\" + c if c in "\\]^-[" else c)


def screen_grammar(model_dir: str | Path) -> str | None:
    """The tiny model's screen (02_chat_templates) for a server: a GBNF grammar that lets a reply
    hold only ``BENIGN_CHARS``, or None where the model's ``generation_config.json`` suppresses
    nothing (the full profile). llama-cpp-python's server takes no logits processor, but a grammar
    per request (``extra_body={"grammar": ...}``)."""
    if not suppressed_token_ids(model_dir):
        return None
    return "root ::= [" + "".join(_gbnf_char(c) for c in sorted(BENIGN_CHARS)) + "]*"


# -- Ollama: a Modelfile beside the GGUF, and its template rendered as Ollama would ----------------------

#: Qwen3's prompt in Go's text/template (Ollama's TEMPLATE): the tokenizer's chat template for system,
#: user and assistant turns. The generation prompt gets the empty think block where ``THINK_OFF`` holds.
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
    stop tokens, and Qwen's sampling for the mode (``SAMPLING``). ``thinking=True`` thinks unless a
    request says ``think: false``; ``thinking=False`` never thinks. Introduced in 08_export."""
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


_ACTION = re.compile(r"\{\{\s*(.*?)\s*\}\}", re.DOTALL)
_FUNCTIONS = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "and": lambda *a: all(map(bool, a)),
              "or": lambda *a: any(map(bool, a)), "not": lambda a: not a}  # Go's truth is Python's


def render_go_template(template: str, messages: list[dict], *, think: bool | None = None) -> str:
    """Render ``template`` as Ollama renders a chat request: ``.Messages`` with ``.Role`` and
    ``.Content``, ``.IsThinkSet`` and ``.Think`` from the request's ``think``. Implements the part of
    Go's text/template the templates here use (trim markers, ``if``/``else if``/``else``/``end``,
    ``range $i, $m := .Messages``, ``eq``/``ne``/``and``/``or``/``not``, fields, string literals);
    anything else is an error, so a template that grows past it is not rendered wrongly.
    Introduced in 08_export."""
    template = re.sub(r"-\}\}\s*", "}}", re.sub(r"\s*\{\{-", "{{", template))  # trim markers
    root: list = []
    stack = [(None, root)]  # (the open if/range node, the body being filled)
    pos = 0
    for m in _ACTION.finditer(template):
        node, body = stack[-1]
        body.append(("text", template[pos:m.start()]))
        pos, action = m.end(), m.group(1)
        if action.startswith("if "):
            body.append(("if", [(action[3:], [])]))  # branches (condition, body); None: the else
            stack.append((body[-1], body[-1][1][0][1]))
        elif action == "else" or action.startswith("else if "):
            if node is None or node[0] != "if" or node[1][-1][0] is None:
                raise ValueError(f"unexpected {action!r} in the template")
            node[1].append((action[len("else if "):] or None, []))
            stack[-1] = (node, node[1][-1][1])
        elif action.startswith("range "):
            r = re.fullmatch(r"range \$(\w+), \$(\w+) := (.+)", action)
            if not r:
                raise ValueError(f"unsupported range: {action!r}")
            body.append(("range", r.group(1), r.group(2), r.group(3), []))
            stack.append((body[-1], body[-1][4]))
        elif action == "end":
            if node is None:
                raise ValueError("unexpected 'end' in the template")
            stack.pop()
        else:
            body.append(("out", action))
    stack[-1][1].append(("text", template[pos:]))
    if len(stack) > 1:
        raise ValueError(f"{stack[-1][0][0]!r} without its end")
    data = {"Messages": [{"Role": m["role"], "Content": m["content"]} for m in messages],
            "IsThinkSet": think is not None, "Think": bool(think)}
    out: list[str] = []
    _run(root, {"$": data}, data, out)
    return "".join(out)


def _run(nodes, variables, dot, out):
    for node in nodes:
        if node[0] == "text":
            out.append(node[1])
        elif node[0] == "out":
            out.append(str(_eval(node[1], variables, dot)))
        elif node[0] == "if":
            _run(next((b for cond, b in node[1] if cond is None or _eval(cond, variables, dot)), []),
                 variables, dot, out)
        else:
            _, index, value, expr, body = node
            for n, item in enumerate(_eval(expr, variables, dot)):
                _run(body, {**variables, index: n, value: item}, item, out)


def _eval(expr: str, variables, dot):
    tokens = re.findall(r'"(?:[^"\\]|\\.)*"|[()]|[^\s()]+', expr)

    def call(i):  # a function applied to the operands up to ")" or the end, or one operand
        if tokens[i] not in _FUNCTIONS:
            return operand(i)
        args, j = [], i + 1
        while j < len(tokens) and tokens[j] != ")":
            arg, j = operand(j)
            args.append(arg)
        return _FUNCTIONS[tokens[i]](*args), j

    def operand(i):
        token = tokens[i]
        if token == "(":
            value, i = call(i + 1)
            if i >= len(tokens) or tokens[i] != ")":
                raise ValueError("unbalanced parentheses")
            return value, i + 1
        if token.startswith('"'):
            return json.loads(token), i + 1
        if token in ("true", "false"):
            return token == "true", i + 1
        if token[0] not in "$.":
            raise ValueError(f"unsupported operand: {token!r}")
        head, _, path = token.partition(".")  # "$m.Role", "$.Think", ".Role"
        value = variables[head[1:] or "$"] if head else dot
        for name in filter(None, path.split(".")):
            value = value[name]
        return value, i + 1

    value, rest = call(0)
    if rest != len(tokens):
        raise ValueError(f"unsupported expression: {expr!r}")
    return value


__all__ = ["Running", "free_port", "modelfile_template", "ollama_modelfile", "render_go_template", "running",
           "screen_grammar"]
