"""qwen3lab: the package behind the notebooks of the Qwen3 QLoRA workshop.

The public API, re-exported from the modules (each module's ``__all__``); nothing else lives here.
Importing it has no side effects: it reads no ``sys.argv``, sets no environment variable and
imports neither Unsloth nor torch. A notebook's first cell says what it starts:
``cfg = q.setup()`` reads the active profile and prepares the process for it (offline for the
tiny profile, ``import unsloth`` before transformers, TRL and PEFT). The GPU speed layer,
``qwen3lab.fast``, is not imported here: notebook 05 reaches it through one call.
"""

# 00 setup: config, machine (setup), artifacts, the tiny model, workarounds
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
from .serve import *  # noqa: F401,F403

__version__ = "0.1.0"
