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
from .chat import (SAMPLING, batch_table, chat, encode_chats, render_chat, split_thinking,  # noqa: E402
                   token_table)
from .model import (added_tokens_table, architecture_facts, architecture_table, count_parameters,  # noqa: E402
                    decoder_layers, load_model, lora_target_modules, lora_targets_table, parameter_table,
                    qwen3_8b_skeleton, structure_table, tokenizer_facts)

# -- 03 dataset cleaning, 04 sampling -----------------------------------------------------------
from .data.sources import load_chat, load_datasets, load_reasoning  # noqa: E402
from .data.clean import (add_token_lengths, apply_length_policy, drop_problem_rows, load_clean,  # noqa: E402
                         load_tokenizer, reasoning_to_conversations, role_counts, save_clean,
                         standardize_sharegpt, to_text)
from .data.mix import composition, load_mixed, mix_counts, mix_datasets, same_rows, save_mixed  # noqa: E402
from .data.validate import (DataError, ValidationReport, count_tokens, length_stats,  # noqa: E402
                            validate_conversations)
from .plots import plot_length_histogram, plot_mix_composition  # noqa: E402

# -- 05 LoRA training, 06 saving and chat ------------------------------------------------------
from .backend import memory_stats  # noqa: E402
from .export import (MERGE_RELATIVE_TOLERANCE, RELOAD_TOLERANCE, before_after_table, folder_table,  # noqa: E402
                     load_adapter, load_merged, max_logit_diff, merge_and_save, merge_tolerance, probe_logits,
                     save_adapter, stored_probe)
from .plots import plot_training  # noqa: E402
from .train import (NoTrainableTokensError, add_lora, checkpoints, expected_lora_parameters,  # noqa: E402
                    log_table, logged, loss_summary, make_trainer, masked_example, projection_shapes, rows_loss,
                    train, trainable_parameters)

__version__ = "0.1.0"
