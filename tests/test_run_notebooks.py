"""Guards what `make run` and `make handout` leave for a reader: a notebook that fails is still
written up to where it stopped, and the handout holds every executed notebook as a self-contained
HTML page (figures embedded) linked from one index."""


import nbformat
import pytest

from conftest import ROOT, load_by_path


@pytest.fixture(scope="module")
def runner():
    return load_by_path("run_notebooks", ROOT / "tools" / "run_notebooks.py")


def _notebook(*cells):
    nb = nbformat.v4.new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def test_the_handout_has_a_page_per_notebook_with_its_outputs_and_an_index(runner, tmp_path):
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    code = nbformat.v4.new_code_cell("fig", outputs=[nbformat.v4.new_output(
        "display_data", data={"image/png": png, "text/plain": "<Figure>"})])
    nb = _notebook(nbformat.v4.new_markdown_cell("# 05 LoRA 注入与训练（LoRA training）"), code)
    index = runner.write_handout([(tmp_path / "05_lora_training.ipynb", nb)], tmp_path / "handout")
    page = (tmp_path / "handout" / "05_lora_training.html").read_text()
    assert f"data:image/png;base64,{png}" in page
    assert '<a href="05_lora_training.html">05 LoRA 注入与训练（LoRA training）</a>' in index.read_text()
    assert nbformat.read(tmp_path / "handout" / "05_lora_training.ipynb", as_version=4).cells[1].outputs


def test_a_failing_notebook_is_written_up_to_where_it_stopped(runner, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QWEN3LAB_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("QWEN3LAB_CONFIG", raising=False)
    path = tmp_path / "07_broken.ipynb"
    nbformat.write(_notebook(nbformat.v4.new_code_cell("print('before')"), nbformat.v4.new_code_cell("1 / 0")), path)
    assert runner.main([str(path), "--no-progress"]) == 1
    written = nbformat.read(tmp_path / "home" / "notebooks" / "07_broken.ipynb", as_version=4)
    assert written.cells[0].outputs[0]["text"] == "before\n"
    err = capsys.readouterr().err
    assert "07_broken.ipynb failed in cell 2 (`1 / 0`): ZeroDivisionError" in err
    assert "the executed part, with every output so far, is in" in err


def test_kernels_do_not_inherit_a_jupyter_session_so_panels_print(runner, tmp_path, monkeypatch):
    # `!make run` in a JupyterLab cell: the server's JPY_SESSION_NAME would make q.ChatPanel draw widgets
    monkeypatch.setenv("QWEN3LAB_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("QWEN3LAB_CONFIG", raising=False)
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "02_chat_templates.ipynb"))
    path = tmp_path / "09_env.ipynb"
    nbformat.write(_notebook(nbformat.v4.new_code_cell("import os\nprint(os.environ.get('JPY_SESSION_NAME'))")), path)
    assert runner.main([str(path), "--no-progress"]) == 0
    written = nbformat.read(tmp_path / "home" / "notebooks" / "09_env.ipynb", as_version=4)
    assert written.cells[0].outputs[0]["text"] == "None\n"
