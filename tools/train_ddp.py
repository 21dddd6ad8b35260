"""Notebook 05's training, data-parallel: the notebook run by every process of

    torchrun --standalone --nproc_per_node N tools/train_ddp.py [--keep-rows]
    accelerate launch --multi_gpu --num_processes N tools/train_ddp.py [--keep-rows]
    make train-ddp NPROC=N [DDP_ARGS=--keep-rows]

in a kernel of its own (``qwen3lab/ddp.py`` says which cell runs where). Only rank 0 prints the
notebook's outputs; every process prints a failing cell's error.
"""

import sys

from qwen3lab.ddp import main

if __name__ == "__main__":
    sys.exit(main())
