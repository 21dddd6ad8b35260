"""qwen3lab: the package behind the notebooks of the Qwen3 QLoRA workshop.

The public API, re-exported from the modules (each module's ``__all__``); nothing else lives here.
``import qwen3lab`` first prepares the process for the active profile (offline environment for
the tiny profile, and ``import unsloth`` before transformers, TRL and PEFT), so it should be the
first import of a notebook. The GPU speed layer, ``qwen3lab.fast``, is not imported here: notebook
05 reaches it through one call.
"""

from .machine import bootstrap as _bootstrap

_bootstrap()

# 00 setup: config, machine, artifacts, the tiny model, workarounds
from .artifacts import *  # noqa: E402,F401,F403
from .config import *  # noqa: E402,F401,F403
from .machine import *  # noqa: E402,F401,F403
from .tiny import *  # noqa: E402,F401,F403
from .workarounds import *  # noqa: E402,F401,F403

# 01 model inspection, 02 chat templates
from .model import *  # noqa: E402,F401,F403
from .chat import *  # noqa: E402,F401,F403

# 03 dataset cleaning, 04 sampling
from .data.sources import *  # noqa: E402,F401,F403
from .data.clean import *  # noqa: E402,F401,F403
from .data.mix import *  # noqa: E402,F401,F403
from .data.validate import *  # noqa: E402,F401,F403
from .plots import *  # noqa: E402,F401,F403

# 05 LoRA training, 06 saving and chat
from .train import *  # noqa: E402,F401,F403
from .export import *  # noqa: E402,F401,F403

__version__ = "0.1.0"
