"""The grading sandbox (mbrl_helpers.grading.sandbox) and the executor's output caps."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import nbformat
import pytest

from mbrl_helpers.grading.sandbox import (
    KERNEL_MODULES,
    NOBODY,
    Sandbox,
    bwrap_problem,
    resolve_mode,
)

needs_bwrap = pytest.mark.skipif(bwrap_problem() is not None,
                                 reason=f"bubblewrap cannot run here: {bwrap_problem()}")

PROBE = """
import glob, json, os, socket
seen = {"uid": os.getuid(), "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit())}
def attempt(name, action):
    try:
        action()
        seen[name] = "ok"
    except OSError as err:
        seen[name] = type(err).__name__
attempt("read_secret", lambda: open(SECRET).read())
attempt("write_tmp", lambda: open("/tmp/x", "w").write("x"))
attempt("write_home", lambda: open(os.path.expanduser("~/x"), "w").write("x"))
attempt("write_package", lambda: open(PACKAGE + "/poison.py", "w").write("x"))
attempt("network", lambda: socket.create_connection(("1.1.1.1", 53), timeout=2))
attempt("kill_parent", lambda: os.kill(os.getppid(), 9) if os.getppid() > 1 else None)
seen["grading_modules"] = sorted(os.listdir(PACKAGE + "/grading"))
seen["cwd"] = os.getcwd()
print(json.dumps(seen))
"""


def _probe(tmp_path) -> dict:
    import mbrl_helpers

    secret = tmp_path / "secret.txt"
    secret.write_text("solutions")
    box = Sandbox(tmp_path / "kernel", memory_mb=2048, cpu_seconds=60)
    box.prepare()
    package = os.path.dirname(mbrl_helpers.__file__)
    code = f"SECRET = {str(secret)!r}\nPACKAGE = {package!r}\n" + PROBE
    env = {"PATH": os.environ["PATH"], "HOME": Sandbox.HOME}
    done = subprocess.run(box.command([sys.executable, "-c", code]), capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@needs_bwrap
def test_the_kernel_sees_only_its_own_world(tmp_path):
    seen = _probe(tmp_path)
    assert seen["read_secret"] == "FileNotFoundError"  # the grader's folders do not exist
    assert seen["write_tmp"] == "ok" and seen["write_home"] == "ok"  # private, writable
    assert seen["write_package"] in ("OSError", "PermissionError")  # read-only
    assert seen["network"] != "ok"
    assert seen["grading_modules"] == sorted(KERNEL_MODULES)  # the guard and the probe only
    assert seen["cwd"] == Sandbox.WORKDIR
    assert max(seen["pids"]) < 10  # its own PID namespace: a handful of processes
    if os.geteuid() == 0:
        assert seen["uid"] == NOBODY


def test_modes_resolve_and_reject_unknown_names():
    assert resolve_mode("none") == "none"
    assert resolve_mode("auto") in ("bwrap", "none")
    with pytest.raises(ValueError, match="sandbox must be one of"):
        resolve_mode("docker")


def test_every_kind_of_output_is_capped():
    from mbrl_helpers.grading.executor import MAX_OUTPUTS, GuardedExecute

    flood = ("from IPython.display import HTML, display\nprint('x' * 2_000_000)\n"
             "for _ in range(300):\n    display(HTML('<b>' + 'y' * 50_000 + '</b>'))\n")
    cells = [nbformat.v4.new_code_cell(flood), nbformat.v4.new_code_cell("1 / 0 if 0 else "
                                                                         "'z' * 3_000_000"),
             nbformat.v4.new_code_cell("raise ValueError('w' * 3_000_000)")]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    executor = GuardedExecute(sandbox="none", timeout=60, notebook_budget=300)
    nb, _ = executor.preprocess(nb, {})
    for cell in nb.cells:
        size = len(json.dumps(cell.outputs))
        assert size < executor.max_output_chars + 20_000, size
        assert len(cell.outputs) <= MAX_OUTPUTS + 1
    assert nb.cells[2].outputs[-1]["ename"] == "ValueError"


@needs_bwrap
def test_a_course_under_tmp_is_still_visible(tmp_path, monkeypatch):
    """CI clones the course anywhere, /tmp included: the sandbox's own /tmp must not hide it."""
    import shutil

    import mbrl_helpers
    from mbrl_helpers.grading import sandbox

    copy = tmp_path / "clone" / "mbrl_helpers"
    shutil.copytree(os.path.dirname(mbrl_helpers.__file__), copy,
                    ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(sandbox, "_package_dir", lambda: copy)
    box = Sandbox(tmp_path / "kernel", memory_mb=2048, cpu_seconds=60)
    box.prepare()
    code = (f"import os, sys; sys.path.insert(0, {str(copy.parent)!r}); import mbrl_helpers; "
            "print(mbrl_helpers.__file__, os.access('/tmp', os.W_OK))")
    done = subprocess.run(box.command([sys.executable, "-c", code]), capture_output=True,
                          text=True, env={"PATH": os.environ["PATH"]}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(copy / "__init__.py"), "True"]


def test_without_bubblewrap_auto_warns_and_bwrap_refuses(monkeypatch, capsys):
    from mbrl_helpers.grading import autograde, sandbox
    from mbrl_helpers.grading.course import CourseError
    from mbrl_helpers.grading.nbgrader_course import GradingConfig

    missing = "bwrap is not installed"
    monkeypatch.setattr(sandbox, "bwrap_problem", lambda: missing)
    monkeypatch.setattr(autograde, "bwrap_problem", lambda: missing)
    settings = autograde._resolve_sandbox(GradingConfig(sandbox="auto"))
    assert settings.sandbox == "none"
    assert "WARNING: grading WITHOUT a sandbox (bwrap is not installed)" in capsys.readouterr().err
    with pytest.raises(CourseError, match="--sandbox bwrap: bwrap is not installed"):
        autograde._resolve_sandbox(GradingConfig(sandbox="bwrap"))
