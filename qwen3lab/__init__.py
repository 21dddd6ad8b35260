"""qwen3lab: the package behind the notebooks of the Qwen3 QLoRA workshop.

The public API, re-exported; nothing else lives here. ``import qwen3lab`` first prepares the
process for the active profile (offline environment, and ``import unsloth`` before
transformers when Unsloth is the backend), so it should be the first import of a notebook.
"""

from .backend import bootstrap as _bootstrap

BACKEND = _bootstrap()

from .artifacts import (  # noqa: E402
    MissingArtifactError,
    artifacts_root,
    atomic_dir,
    read_manifest,
    require,
    stage_dir,
    write_manifest,
)
from .backend import BackendError, check_environment, device_summary, resolve_backend  # noqa: E402
from .chat import SAMPLING, chat, render_chat, split_thinking  # noqa: E402
from .config import PROFILES, Config, ConfigError, describe, get_config  # noqa: E402
from .data.sources import load_chat, load_datasets, load_reasoning  # noqa: E402
from .model import load_model, lora_target_modules  # noqa: E402
from .tiny import build_tiny_model, load_qwen3_tokenizer  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "BACKEND", "PROFILES", "SAMPLING", "BackendError", "Config", "ConfigError", "MissingArtifactError",
    "artifacts_root", "atomic_dir", "build_tiny_model", "chat", "check_environment", "describe",
    "device_summary", "get_config", "load_chat", "load_datasets", "load_model", "load_qwen3_tokenizer",
    "load_reasoning", "lora_target_modules", "read_manifest", "render_chat", "require", "resolve_backend",
    "split_thinking", "stage_dir", "write_manifest",
]
