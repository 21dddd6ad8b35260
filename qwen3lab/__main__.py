"""``python -m qwen3lab run ...``, the same command as the ``qwen3lab`` console script: the series
executed headless (``qwen3lab/runner.py``). ``python -m qwen3lab run --help`` lists the options."""

import sys

from .runner import main

if __name__ == "__main__":
    sys.exit(main())
