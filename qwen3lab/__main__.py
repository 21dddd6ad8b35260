"""``python -m qwen3lab run ...``, as the ``qwen3lab`` console script: the series run headless."""

import sys

from .runner import main

if __name__ == "__main__":
    sys.exit(main())
