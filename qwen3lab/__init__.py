"""qwen3lab: the package behind the notebooks of the Qwen3 QLoRA workshop.

The public API, re-exported; nothing else lives here. ``import qwen3lab`` first prepares the
process for the active profile (offline environment, and ``import unsloth`` before
transformers when Unsloth is the backend), so it should be the first import of a notebook.
"""

from .backend import bootstrap as _bootstrap

BACKEND = _bootstrap()

# -- 00 setup: config, backend, artifacts, the tiny model -----------------------------------
from .artifacts import (MissingArtifactError, artifacts_root, atomic_dir, read_manifest,  # noqa: E402
                        require, stage_dir, write_manifest)
from .backend import BackendError, check_environment, device_summary, resolve_backend  # noqa: E402
from .config import PROFILES, Config, ConfigError, describe, get_config  # noqa: E402
from .tiny import build_tiny_model, load_qwen3_tokenizer  # noqa: E402

# -- 01 model inspection, 02 chat templates ---------------------------------------------------
from .chat import SAMPLING, chat, render_chat, split_thinking  # noqa: E402
from .model import load_model, lora_target_modules  # noqa: E402

# -- 03 dataset cleaning, 04 sampling -----------------------------------------------------------
from .data.sources import load_chat, load_datasets, load_reasoning  # noqa: E402

# -- 05 LoRA training, 06 saving and chat ------------------------------------------------------

__version__ = "0.1.0"
