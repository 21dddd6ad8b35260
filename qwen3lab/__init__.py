"""qwen3lab: the package behind the notebooks of the Qwen3 QLoRA workshop.

The public API, re-exported from the modules (each module's ``__all__``); nothing else lives here.
``import qwen3lab`` first prepares the process for the active profile (offline environment for
the tiny profile, and ``import unsloth`` before transformers, TRL and PEFT), so it should be the
first import of a notebook. The GPU speed layer, ``qwen3lab.fast``, is not imported here: notebook
05 reaches it through one call.

The one exception is the process of ``python -m qwen3lab`` / the ``qwen3lab`` command (the
headless runner, ``runner.py``): it only starts kernels, which import the package themselves, so
it skips Unsloth (about 17 s) and the environment ``bootstrap`` sets (``HF_HUB_OFFLINE``...),
which every kernel it starts would otherwise inherit.
"""

import sys as _sys
from pathlib import Path as _Path


def _runner_process() -> bool:
    # while Python locates the module of `-m qwen3lab`, sys.argv[0] is "-m"; orig_argv has the rest
    argv = getattr(_sys, "orig_argv", [])
    via_m = _sys.argv[:1] == ["-m"] and "-m" in argv and argv[argv.index("-m") + 1:][:1] == ["qwen3lab"]
    return via_m or _Path(_sys.argv[0]).name in ("qwen3lab", "qwen3lab.exe")


if not _runner_process():
    from .machine import bootstrap as _bootstrap

    _bootstrap()

    # 00 setup: config, machine, artifacts, the tiny model, workarounds
    from .artifacts import *  # noqa: F401,F403
    from .config import *  # noqa: F401,F403
    from .machine import *  # noqa: F401,F403
    from .tiny import *  # noqa: F401,F403
    from .workarounds import *  # noqa: F401,F403

    # 01 model inspection, 02 chat templates
    from .model import *  # noqa: F401,F403
    from .chat import *  # noqa: F401,F403
    from .panels import *  # noqa: F401,F403  (the panels of 02, 03, 04, 06, 07)

    # 03 dataset cleaning, 04 sampling
    from .data.sources import *  # noqa: F401,F403
    from .data.clean import *  # noqa: F401,F403
    from .data.mix import *  # noqa: F401,F403
    from .data.validate import *  # noqa: F401,F403
    from .plots import *  # noqa: F401,F403

    # 05 LoRA training, 06 saving and chat, 07 evaluation
    from .train import *  # noqa: F401,F403
    from .meter import *  # noqa: F401,F403
    from .export import *  # noqa: F401,F403
    from .evaluate import *  # noqa: F401,F403

    # 08 export (GGUF)
    from .gguf import *  # noqa: F401,F403

__version__ = "0.1.0"
