"""Guards the published handout (docs/handout/, written by `make publish-handout`): the series
executed on the tiny profile with every output, for a reader who does not run it. It must hold
each notebook of notebooks/ with the same cells as now, every code cell executed: a notebook
changed without `make publish-handout` fails here."""

import json

import pytest

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _cells(path):
    return [(c["cell_type"], "".join(c["source"])) for c in json.loads(path.read_text())["cells"]]


def test_the_handout_holds_every_notebook_and_nothing_else():
    assert sorted(p.name for p in (ROOT / "docs" / "handout").glob("*.ipynb")) == [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_handout_notebook_has_the_current_cells_all_executed(source):
    published = ROOT / "docs" / "handout" / source.name
    assert _cells(published) == _cells(source), f"{published} is stale: run `make publish-handout`"
    code = [c for c in json.loads(published.read_text())["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] for c in code), f"{published}: a code cell was not executed"
    assert sum(bool(c["outputs"]) for c in code) >= len(code) // 2  # the outputs a reader came for
