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

from .tiny import BENIGN_CHARS


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
    config = Path(model_dir) / "generation_config.json"
    if not (config.is_file() and json.loads(config.read_text()).get("suppress_tokens")):
        return None
    return "root ::= [" + "".join(_gbnf_char(c) for c in sorted(BENIGN_CHARS)) + "]*"


__all__ = ["Running", "free_port", "running", "screen_grammar"]
