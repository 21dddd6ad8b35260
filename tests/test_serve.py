"""Guards 08's server block (``q.running``): the process answers before the block's body runs, is
stopped with everything it started when the block ends, also when the body raises, and a server
that dies or never answers is an error that shows its log. And the tiny profile's screen as a grammar.

The server itself (llama-cpp-python's, on the tiny GGUF) runs in notebook 08 under nbval."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from qwen3lab.serve import free_port, running, screen_grammar
from qwen3lab.tiny import BENIGN_CHARS

# an HTTP server that, before it serves, starts a child of its own (as a server's worker would)
SERVER = """
import http.server, subprocess, sys
child = subprocess.Popen(["sleep", "300"])
open(sys.argv[2], "w").write(str(child.pid))
http.server.test(HandlerClass=http.server.SimpleHTTPRequestHandler, port=int(sys.argv[1]), bind="127.0.0.1")
"""


def _gone(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("fail", [False, True])
def test_the_server_answers_inside_the_block_and_nothing_is_left_after_it(tmp_path, fail):
    port, child_file = free_port(), tmp_path / "child.pid"
    command = [sys.executable, "-c", SERVER, str(port), str(child_file)]
    with pytest.raises(ZeroDivisionError) if fail else contextlib.nullcontext():
        with running(command, ready=f"http://127.0.0.1:{port}/") as server:
            assert _listening(port) and server.ready_s < 30 and server.process.poll() is None
            if fail:
                1 / 0  # a cell that fails inside the block
    child = int(child_file.read_text())
    deadline = time.monotonic() + 5
    while not (_gone(server.process.pid) and _gone(child)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.process.poll() is not None and _gone(child) and not _listening(port)


def test_the_server_stops_when_the_process_that_started_it_is_killed(tmp_path):
    """A kernel killed inside the block (out of memory, a restart) runs no finally: the server gets
    SIGTERM from the kernel's death all the same."""
    port, child_file, pid_file = free_port(), tmp_path / "child.pid", tmp_path / "server.pid"
    owner = subprocess.Popen([sys.executable, "-c", f"""
import sys, time
from qwen3lab.serve import running
with running({[sys.executable, "-c", SERVER, str(port), str(child_file)]!r}, ready="http://127.0.0.1:{port}/") as s:
    open({str(pid_file)!r}, "w").write(str(s.process.pid))
    time.sleep(300)
"""])
    try:
        deadline = time.monotonic() + 30
        while not (pid_file.is_file() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        server = int(pid_file.read_text())
        owner.kill()
        owner.wait()
        deadline = time.monotonic() + 5
        while not _gone(server) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _gone(server) and not _listening(port)
    finally:
        if owner.poll() is None:
            owner.kill()
        if child_file.is_file():  # the server's own child: only a finally kills its group, and none ran
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(child_file.read_text()), signal.SIGKILL)


def test_a_server_that_exits_before_answering_shows_its_log():
    command = [sys.executable, "-c", "import sys; print('no model file: /nowhere.gguf'); sys.exit(3)"]
    with pytest.raises(RuntimeError, match=r"exited with 3; its log .* ends with:\nno model file: /nowhere\.gguf"):
        with running(command, ready=f"http://127.0.0.1:{free_port()}/"):
            raise AssertionError("the block must not run")


def test_a_server_that_never_answers_is_stopped_after_the_timeout():
    command = [sys.executable, "-c", "import time; print('loading', flush=True); time.sleep(60)"]
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"did not answer .* within 1 s.*\nloading"):
        with running(command, ready=f"http://127.0.0.1:{free_port()}/", timeout=1):
            raise AssertionError("the block must not run")
    assert time.monotonic() - started < 10


def test_the_screen_grammar_allows_the_benign_characters_only(tmp_path):
    assert screen_grammar(tmp_path) is None  # no generation_config.json: nothing to screen
    (tmp_path / "generation_config.json").write_text(json.dumps({"temperature": 0.6}))
    assert screen_grammar(tmp_path) is None  # the full profile's models suppress nothing
    (tmp_path / "generation_config.json").write_text(json.dumps({"suppress_tokens": [5, 6]}))
    grammar = screen_grammar(tmp_path)
    assert grammar.startswith("root ::= [") and grammar.endswith("]*")
    body = grammar[len("root ::= ["):-2]
    unescaped = body.replace("\\n", "\n").replace("\\t", "\t").replace("\\-", "-").replace("\\]", "]")
    assert set(unescaped) - {"\\"} == BENIGN_CHARS - {"\\"}


def test_the_grammar_parses_in_llama_cpp():
    from llama_cpp import LlamaGrammar

    from qwen3lab.serve import _gbnf_char

    grammar = "root ::= [" + "".join(_gbnf_char(c) for c in sorted(BENIGN_CHARS)) + "]*"
    assert LlamaGrammar.from_string(grammar, verbose=False) is not None


CONVERSATIONS = [
    [{"role": "user", "content": "1+1=?"}],
    [{"role": "system", "content": "你是一位耐心的数学老师。"}, {"role": "user", "content": "解方程 (x + 2)^2 = 0。"}],
    [{"role": "system", "content": "s"}, {"role": "user", "content": "What is 1 + 1?"},
     {"role": "assistant", "content": "1 + 1 = 2."}, {"role": "user", "content": "And 2 + 2?\n\nLine two."}],
]


@pytest.mark.parametrize("thinking", [True, False])
def test_the_modelfiles_template_renders_the_tokenizers_prompt_in_both_modes(thinking):
    """What Ollama would send the model is what apply_chat_template writes: the Modelfile that thinks
    (unless a request says think: false) and the one that never does."""
    from qwen3lab.serve import modelfile_template, ollama_modelfile, render_go_template
    from qwen3lab.tiny import load_qwen3_tokenizer

    tokenizer = load_qwen3_tokenizer()
    modelfile = ollama_modelfile("model-q4_k_m.gguf", thinking=thinking, num_ctx=768)
    lines = modelfile.splitlines()
    assert lines[0] == "FROM ./model-q4_k_m.gguf"
    assert 'PARAMETER stop "<|im_end|>"' in lines and 'PARAMETER stop "<|endoftext|>"' in lines
    assert ("PARAMETER temperature 0.6" in lines) == thinking and ("PARAMETER temperature 0.7" in lines) != thinking
    template = modelfile_template(modelfile)
    for messages in CONVERSATIONS:
        for think in (None, True, False):
            expected = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                                     enable_thinking=thinking and think is not False)
            assert render_go_template(template, messages, think=think) == expected, (messages, think)


def test_the_renderer_refuses_what_it_does_not_implement():
    from qwen3lab.serve import render_go_template

    for template in ("{{ range .Messages }}x{{ end }}", "{{ if .Think }}x", "{{ len .Messages }}", "{{ .X | printf }}"):
        with pytest.raises((ValueError, KeyError)):
            render_go_template(template, [{"role": "user", "content": "u"}], think=True)
    assert render_go_template('{{- if and $.IsThinkSet (not $.Think) }}off{{ else }}on{{ end -}}\n', [],
                              think=False) == "off"
