"""Guards `python -m qwen3lab run` (qwen3lab/runner.py): --from/--to run exactly the notebooks
named by number, a config file with a bad key, type or value is refused with the key and the file
before any kernel starts, a run leaves a summary of what each notebook did, and a failing notebook
gives exit code 1 with the notebook and the cell named. Tiny fake notebooks, not the series."""

import json
import re
import subprocess
import sys

import nbformat
import pytest

from conftest import ROOT


@pytest.fixture(scope="module")
def runner():
    from qwen3lab import runner

    return runner


@pytest.fixture
def env(monkeypatch, tmp_path):
    """main() sets these for the kernels: restore them after the test."""
    for name in ("QWEN3LAB_HOME", "QWEN3LAB_CONFIG", "QWEN3LAB_PROFILE"):
        monkeypatch.setenv(name, "")  # recorded, so that teardown restores (or removes) it
        monkeypatch.delenv(name)
    return tmp_path / "home"


def _write(folder, name, *sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {name}")]
                                  + [nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / f"{name}.ipynb")


@pytest.fixture
def notebooks(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _write(folder, "00_setup", "raise SystemExit('00 must not run')")
    _write(folder, "01_one", "# NBVAL_CHECK_OUTPUT\nprint('rows:', 240)\nprint('chat :', 480)", "assert 1 + 1 == 2")
    _write(folder, "02_two", "import os\nprint(os.environ['QWEN3LAB_CONFIG'].endswith('my.toml'))",
           "# NBVAL_CHECK_OUTPUT\n6 * 7")
    _write(folder, "03_broken", "print('before')", "x = 1", "1 / 0", "print('never')")
    _write(folder, "04_after", "print('never either')")
    return folder


def test_from_and_to_pick_notebooks_by_number(runner, notebooks):
    found = runner.series(notebooks)
    assert [p.stem for p in runner.select(found, "01", "03")] == ["01_one", "02_two", "03_broken"]
    assert [p.stem for p in runner.select(found, "3", None)] == ["03_broken", "04_after"]
    assert len(runner.select(found, None, None)) == 5
    with pytest.raises(ValueError, match=r"--to 07: no notebook has that number; the series is 00_setup, .*04_after"):
        runner.select(found, "01", "07")
    with pytest.raises(ValueError, match="--from 03 comes after --to 01"):
        runner.select(found, "03", "01")


@pytest.mark.parametrize("line, says", [
    ("rr = 16", r"unknown config key\(s\) 'rr' \(did you mean 'r'\?\) in .*my.toml"),
    ('r = "big"', r"config field r='big' has type str; expected int .*\(from .*my.toml\)"),
    ("r = -1", r"config field r=-1 must be an integer from 1 to 4,096 \(from .*my.toml\)"),
])
def test_a_bad_config_file_is_refused_before_any_kernel_starts(runner, notebooks, env, tmp_path, monkeypatch,
                                                             capsys, line, says):
    (tmp_path / "my.toml").write_text(f"{line}\n")
    monkeypatch.setattr(runner, "execute", lambda *a, **k: pytest.fail("a kernel was started"))
    code = runner.main(["run", "--config", str(tmp_path / "my.toml"), "--notebooks", str(notebooks),
                        "--home", str(env), "--from", "01", "--to", "02"])
    assert code == 2
    assert re.search(says, capsys.readouterr().err)
    assert not env.exists()


def test_a_number_with_no_notebook_is_refused(runner, notebooks, env, capsys):
    assert runner.main(["run", "--notebooks", str(notebooks), "--home", str(env), "--from", "08"]) == 2
    assert "--from 08: no notebook has that number" in capsys.readouterr().err


def test_a_run_writes_the_copies_and_a_summary(runner, notebooks, env, tmp_path, capsys):
    (tmp_path / "my.toml").write_text("r = 16\n")
    code = runner.main(["run", "--config", str(tmp_path / "my.toml"), "--notebooks", str(notebooks),
                        "--home", str(env), "--from", "01", "--to", "02", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    summary = json.loads((env / "notebooks" / "summary.json").read_text())
    assert summary["passed"] and summary["changed from the profile"] == "r = 16"
    one, two = summary["notebooks"]
    assert (one["notebook"], one["status"], one["cells_run"], one["assert_lines"]) == ("01_one.ipynb", "passed", 2, 1)
    assert one["checked"] == ["rows: 240 | chat : 480"] and two["checked"] == ["42"]
    # the kernel saw the config file, as an absolute path
    assert nbformat.read(env / "notebooks" / "02_two.ipynb", as_version=4).cells[1].outputs[0]["text"] == "True\n"
    assert not (env / "notebooks" / "00_setup.ipynb").exists()
    page = (env / "notebooks" / "summary.md").read_text()
    assert "2 of 2 notebooks passed" in page and "| 01_one.ipynb | passed |" in page and "rows: 240 | chat : 480" in page


def test_the_summary_names_the_slowest_cells(runner, tmp_path, env, capsys):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _write(folder, "01_slow", "x = 1", "# a comment first\nimport time\ntime.sleep(1.5)", "time.sleep(0.5)", "y = 2",
           "import os\nimport os.path")
    assert runner.main(["run", "--notebooks", str(folder), "--home", str(env), "--from", "01", "--no-progress"]) == 0
    slowest = json.loads((env / "notebooks" / "summary.json").read_text())["notebooks"][0]["slowest"]
    # cell 1 is the markdown title: the sleeps are cells 3 and 4; the quick cells are not listed
    assert [(c["cell"], c["source"]) for c in slowest] == [(3, "import time | time.sleep(1.5)"), (4, "time.sleep(0.5)")]
    assert slowest[0]["seconds"] >= 1.5 > slowest[1]["seconds"] >= 0.5
    page = (env / "notebooks" / "summary.md").read_text()
    assert re.search(r"01_slow.ipynb: \d+\.\d s in cell 3 \(`import time \| time.sleep\(1.5\)`\), \d+\.\d s in cell 4 ",
                     page)
    assert runner._headline("%matplotlib inline\na = 1\nb = 2\nc = 3") == "a = 1 | b = 2 | …"


def test_a_failing_notebook_exits_1_naming_the_notebook_and_the_cell(runner, notebooks, env, capsys):
    code = runner.main(["run", "--notebooks", str(notebooks), "--home", str(env), "--from", "03", "--no-progress"])
    assert code == 1
    err = capsys.readouterr().err
    assert "03_broken.ipynb failed in cell 4 (`1 / 0`): ZeroDivisionError: division by zero" in err
    written = nbformat.read(env / "notebooks" / "03_broken.ipynb", as_version=4)
    assert written.cells[1].outputs[0]["text"] == "before\n"
    summary = json.loads((env / "notebooks" / "summary.json").read_text())
    assert [(n["status"], n["failed_cell"], n["cells_run"]) for n in summary["notebooks"]] == [
        ("failed", 4, 2), ("not run", None, 0)]
    assert "0 of 2 notebooks passed" in (env / "notebooks" / "summary.md").read_text()


_PURE = """
import os, sys

class Trap(list):  # sys.argv read in any way raises
    def __getitem__(self, i): raise AssertionError("sys.argv was read")
    def __iter__(self): raise AssertionError("sys.argv was read")
    def __len__(self): raise AssertionError("sys.argv was read")

sys.argv, sys.orig_argv = Trap(), Trap()
before = dict(os.environ)
import qwen3lab, qwen3lab.runner
print(sorted({k.split('.')[0] for k in sys.modules} & {'unsloth', 'unsloth_zoo', 'torch', 'transformers', 'trl',
                                                       'peft', 'datasets'}), dict(os.environ) == before)
"""


def test_import_qwen3lab_is_pure():
    """No Unsloth, torch or Hugging Face library, no sys.argv, no environment variable: what a notebook
    starts is what its first cell, q.setup(), says."""
    out = subprocess.run([sys.executable, "-c", _PURE], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out == "[] True\n"


def test_the_series_dependencies_are_read_from_its_require_calls(runner):
    """--jobs runs side by side only what no notebook needs: the graph of the real series."""
    paths = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    needs = runner.prerequisites(paths)
    got = {p.name[:2]: sorted(n.name[:2] for n in needed) for p, needed in needs.items()}
    assert got == {"00": [], "01": ["00"], "02": ["00"], "03": ["00"], "04": ["00", "03"], "05": ["00", "04"],
                   "06": ["00", "05"], "07": ["00", "04", "05"], "08": ["00", "06"],
                   "09": ["00", "04", "05"]}
    # from 05 on, the stages of 00-04 are on disk already: only what is selected is waited for
    later = runner.prerequisites([p for p in paths if p.name >= "05"])
    assert {p.name[:2]: sorted(n.name[:2] for n in needed) for p, needed in later.items()} == {
        "05": [], "06": ["05"], "07": ["05"], "08": ["06"], "09": ["05"]}


def _timed(name, seconds, fail=False):
    """Cells that record when they ran (and stand in for a ``q.require`` of the stage they read)."""
    return ("import time, pathlib\n"
            f"pathlib.Path('{name}.start').write_text(repr(time.time()))\n"
            f"time.sleep({seconds})\n" + ("1 / 0\n" if fail else "") +
            f"pathlib.Path('{name}.end').write_text(repr(time.time()))")


@pytest.mark.parametrize("fail", [False, True])
def test_jobs_run_independent_notebooks_side_by_side_and_wait_for_the_rest(runner, tmp_path, env, capsys, fail):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    require = "require = lambda stage: stage\n"
    _write(folder, "00_setup", _timed("00", 0))
    _write(folder, "01_model_inspection", _timed("01", 4))
    _write(folder, "03_dataset_cleaning", _timed("03", 2, fail=fail))
    _write(folder, "04_sampling", require + 'require("clean")', _timed("04", 0))
    code = runner.main(["run", "--notebooks", str(folder), "--home", str(env), "--jobs", "2", "--no-progress"])
    t = {p.name: float(p.read_text()) for p in folder.glob("*.start")} | {
        p.name: float(p.read_text()) for p in folder.glob("*.end")}
    summary = json.loads((env / "notebooks" / "summary.json").read_text())
    statuses = [(n["notebook"][:2], n["status"]) for n in summary["notebooks"]]
    assert t["01.start"] >= t["00.end"] and t["03.start"] >= t["00.end"]
    assert t["03.start"] < t["01.end"] and t["01.start"] < t["03.start"] + 2  # 01 and 03 side by side
    # each kernel's own peaks, read in it after the last cell (no GPU here; a Python kernel takes > 20 MiB)
    assert all(n["ram_peak_mib"] > 20 and n["gpu_peak_mib"] is None for n in summary["notebooks"] if n["status"] == "passed")
    written = nbformat.read(env / "notebooks" / "00_setup.ipynb", as_version=4)
    assert len(written.cells) == 2 and runner.PEAKS not in runner.output_text(written.cells[-1])  # the epilogue is gone
    if not fail:
        assert code == 0 and statuses == [("00", "passed"), ("01", "passed"), ("03", "passed"), ("04", "passed")]
        assert t["04.start"] >= t["03.end"]  # 04 reads 03's stage: it waited
    else:  # 01 runs to its end; 04, which needs 03, never starts
        assert code == 1 and statuses == [("00", "passed"), ("01", "passed"), ("03", "failed"), ("04", "not run")]
        assert "01.end" in t and "04.start" not in t
        assert "03_dataset_cleaning.ipynb failed in cell 2" in capsys.readouterr().err


def test_each_notebook_logs_its_cells_as_they_run(runner, tmp_path, env):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    # the third cell reads its own notebook's log while the notebook runs
    _write(folder, "01_slow", "import time\ntime.sleep(0.6)", "x = 1",
           "import os\nprint(open(os.environ['QWEN3LAB_HOME'] + '/notebooks/01_slow.cells.log').read())", "1 / 0")
    assert runner.main(["run", "--notebooks", str(folder), "--home", str(env), "--no-progress"]) == 1
    seen = nbformat.read(env / "notebooks" / "01_slow.ipynb", as_version=4).cells[3].outputs[0]["text"]
    assert re.search(r"cell 2 ended after 0\.[6-9] s\n.*cell 3 started: `x = 1`\n.*cell 3 ended after", seen)
    assert "cell 4 started: `import os | print(open(" in seen.rstrip().splitlines()[-1]  # its own start, last
    lines = (env / "notebooks" / "01_slow.cells.log").read_text().splitlines()
    text = [re.sub(r"^\s*\d+\.\d s  ", "", line) for line in lines]
    assert text[0] == "01_slow.ipynb started" and text[-3] == "cell 5 started: `1 / 0`"
    assert re.fullmatch(r"cell 5 ended after \d+\.\d s", text[-2])
    # the last line is the notebook's end: failed, its time, its error
    assert re.fullmatch(r"failed in \d+\.\d s: ZeroDivisionError: division by zero", text[-1])
    times = [float(line.split()[0]) for line in lines]
    assert times == sorted(times) and times[-1] >= 0.6


def test_a_killed_kernel_is_reported_within_seconds_and_leaves_no_process(tmp_path):
    """The OOM killer's case: the kernel is SIGKILLed while a cell runs. The runner must say so,
    naming the notebook and the cell, exit non-zero within 5 s, and leave no process behind (it
    used to wait for the dead kernel's output forever, deaf to --timeout and to SIGTERM)."""
    import os
    import signal
    import time

    folder, home = tmp_path / "notebooks", tmp_path / "home"
    folder.mkdir()
    pid_file = tmp_path / "kernel.pid"
    _write(folder, "05_sleeps", "print('started')",
           f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(90)")
    proc = subprocess.Popen([sys.executable, "-m", "qwen3lab", "run", "--notebooks", str(folder), "--home", str(home),
                             "--from", "05", "--to", "05", "--timeout", "120", "--no-progress"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.is_file() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.2)
        kernel = int(pid_file.read_text())
        os.kill(kernel, signal.SIGKILL)
        killed = time.monotonic()
        out, _ = proc.communicate(timeout=30)
        took = time.monotonic() - killed
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0 and took < 5, (proc.returncode, took, out[-2000:])
    assert "05_sleeps.ipynb failed in cell 3 (`import os, time" in out and "the kernel died" in out, out[-2000:]
    time.sleep(0.5)
    with pytest.raises(ProcessLookupError):  # nothing of the run is left: no kernel, no helper
        os.killpg(proc.pid, 0)


def test_a_negative_timeout_or_a_file_as_home_is_refused_before_any_kernel(runner, notebooks, env, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        runner.main(["run", "--notebooks", str(notebooks), "--timeout", "-5"])
    assert exit_.value.code == 2 and "--timeout takes a whole number of seconds" in capsys.readouterr().err
    a_file = tmp_path / "home.txt"
    a_file.write_text("not a folder")
    assert runner.main(["run", "--notebooks", str(notebooks), "--home", str(a_file), "--no-progress"]) == 2
    assert f"--home {a_file} is a file" in capsys.readouterr().err


def test_a_read_only_artifacts_root_is_refused_before_any_kernel(runner, notebooks, env, tmp_path, capsys,
                                                                 monkeypatch):
    """A root on a read-only file system (EROFS even for root, which chmod cannot show): os.access says so."""
    import os

    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(runner.os, "access", lambda path, mode, **kw: False if os.fspath(path) == str(ro)
                        and mode & os.W_OK else real(path, mode, **kw))
    assert runner.main(["run", "--notebooks", str(notebooks), "--home", str(ro / "artifacts"), "--from", "01",
                        "--to", "01", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"the artifacts root {ro / 'artifacts'} cannot be written ({ro} is read-only" in err and "--home" in err
    assert not (ro / "artifacts").exists()


def test_a_killed_runner_leaves_no_process_of_its_kernel(tmp_path):
    """SIGKILL of the runner itself (a closed terminal, a CI job cancelled): the kernel and what it
    forked (SwanLab's helpers, here a sleeping child) must go too, within seconds."""
    import os
    import signal
    import time

    folder, home = tmp_path / "notebooks", tmp_path / "home"
    folder.mkdir()
    pid_file = tmp_path / "pids"
    _write(folder, "05_forks", "import os, subprocess, time\nchild = subprocess.Popen(['sleep', '300'])\n"
           f"open({str(pid_file)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')\ntime.sleep(90)")
    proc = subprocess.Popen([sys.executable, "-m", "qwen3lab", "run", "--notebooks", str(folder), "--home", str(home),
                             "--from", "05", "--to", "05", "--no-progress"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.is_file() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.2)
        kernel, child = map(int, pid_file.read_text().split())
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 5
        left = [kernel, child]
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = [pid for pid in left if _running(pid)]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert left == [], f"still running 5 s after the runner was killed: {left}"


def _running(pid: int) -> bool:
    import os

    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z" and os.path.exists(f"/proc/{pid}")
