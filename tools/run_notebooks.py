"""Execute notebooks in order, as `make run` does, and print the wall time of each.

    python tools/run_notebooks.py notebooks/00_setup.ipynb notebooks/01_....ipynb
    python tools/run_notebooks.py --refresh notebooks/*.ipynb
    python tools/run_notebooks.py --handout notebooks/*.ipynb

A shim over ``qwen3lab/runner.py`` (which ``python -m qwen3lab run`` uses too). Executed copies and ``summary.md`` go to ``<artifacts root>/notebooks/``; the sources are
never rewritten, except with ``--refresh``, which stores back into each source the outputs of the
cells marked ``# NBVAL_CHECK_OUTPUT`` (the ones nbval compares) and clears every other output.
``--handout`` also writes each executed notebook as a self-contained HTML page (figures embedded)
and an ``index.html`` linking them, under ``<artifacts root>/handout/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout, installed or not
from qwen3lab import runner  # noqa: E402

main, write_handout = runner.files_main, runner.write_handout

if __name__ == "__main__":
    sys.exit(main())
