"""Notebook 05's training, data-parallel: the notebook's own code cells, run in every process of

    torchrun --standalone --nproc_per_node N tools/train_ddp.py [--keep-rows]
    accelerate launch --multi_gpu --num_processes N tools/train_ddp.py [--keep-rows]
    make train-ddp NPROC=N [DDP_ARGS=--keep-rows]

(``qwen3lab/ddp.py`` says which cell runs where). Only rank 0 prints: the standard output of the
other processes is sent nowhere before Unsloth's import banner (``--print-all-ranks`` keeps it);
their errors still reach standard error.
"""

from __future__ import annotations

import os
import sys

if int(os.environ.get("RANK", "0")) and "--print-all-ranks" not in sys.argv[1:]:
    sys.stdout = open(os.devnull, "w")

from qwen3lab.ddp import main  # noqa: E402  (main imports Unsloth, after the output is settled)

if __name__ == "__main__":
    sys.exit(main())
