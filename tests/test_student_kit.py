"""`mbrl-course student-kit`: what a course hands out, and a student's install of it.

The fast tests read the zip: the release notebooks, a wheel with the helpers but not the
grader, the course's pins, a README, and no solution, hidden-test or verdict text anywhere
(inside the wheel too). The slow ones install the kit as its README says, in a fresh virtual
environment shared with ``test_browser_lab.py`` (``tests/kit_env.py``), and use it: imports,
Jupyter's extension lists, every blank notebook up to its first exercise, ``nbgrader
validate``.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import json
import re
import shutil
import tomllib
import zipfile

import nbformat
import pytest

from mbrl_helpers.grading.cli import main
from mbrl_helpers.grading.course import CourseError, notebook_names
from mbrl_helpers.grading.student_kit import (
    DISABLED_LAB_PLUGINS,
    DISABLED_SERVER_EXTENSIONS,
    GRADER_ONLY,
    build_kit,
    course_secrets,
    find_kit_leaks,
    verdict_pairs,
)
from tests.kit_env import KIT, student_env

WHEEL = "mbrl_helpers-0.1.0+student-py3-none-any.whl"
NB = "00_course_tour"


@pytest.fixture(scope="module")
def kit(root, tmp_path_factory) -> dict[str, bytes]:
    """The kit built by the CLI, as ``{member: bytes}``."""
    out = tmp_path_factory.mktemp("kit") / f"{KIT}.zip"
    assert main(["--root", str(root), "student-kit", str(out), "--skip-release-check"]) == 0
    with zipfile.ZipFile(out) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _wheel(kit) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(kit[f"{KIT}/{WHEEL}"])) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _pins(root) -> list[str]:
    deps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    return [d for d in deps if d.split("==")[0] not in GRADER_ONLY]


def test_kit_holds_the_release_the_wheel_the_pins_and_a_readme(root, kit):
    names = notebook_names(root)
    assert set(kit) == {f"{KIT}/{f}" for f in ["README.md", "requirements.txt", WHEEL]} | {
        f"{KIT}/notebooks/{n}.ipynb" for n in names}
    for name in names:  # the release itself, byte for byte
        assert kit[f"{KIT}/notebooks/{name}.ipynb"] == (root / "notebooks" / f"{name}.ipynb"
                                                        ).read_bytes()
    requirements = [line for line in kit[f"{KIT}/requirements.txt"].decode().splitlines()
                    if line and not line.startswith("#")]
    assert requirements == _pins(root)
    assert {"torch==2.13.0", "nbgrader==0.9.6", "jupyterlab==4.5.11"} <= set(requirements)
    assert not {r.split("==")[0] for r in requirements} & {"pytest", "ruff", "playwright",
                                                            *GRADER_ONLY}
    readme = kit[f"{KIT}/README.md"].decode()
    for step in [f"pip install -r requirements.txt {WHEEL}", "jupyter lab notebooks/",
                 "**Validate**", f"nbgrader validate notebooks/{NB}.ipynb", "## Submit"]:
        assert step in readme


def test_student_wheel_has_the_helpers_but_not_the_grader(root, kit):
    wheel = _wheel(kit)
    modules = {n for n in wheel if n.startswith("mbrl_helpers/")}
    helpers = {p.relative_to(root).as_posix() for p in (root / "mbrl_helpers").glob("*.py")}
    assert modules == helpers | {"mbrl_helpers/grading/__init__.py",
                                 "mbrl_helpers/grading/probe.py"}
    assert wheel["mbrl_helpers/grading/probe.py"] == (root / "mbrl_helpers/grading/probe.py"
                                                      ).read_bytes()
    for name in modules:  # every mbrl_helpers import of the wheel resolves inside the wheel
        for node in ast.walk(ast.parse(wheel[name])):
            imported = [node.module or ""] if isinstance(node, ast.ImportFrom) else [
                a.name for a in node.names] if isinstance(node, ast.Import) else []
            for module in (m for m in imported if m.startswith("mbrl_helpers")):
                path = module.replace(".", "/")
                assert f"{path}.py" in wheel or f"{path}/__init__.py" in wheel, (name, module)
    dist = "mbrl_helpers-0.1.0+student.dist-info"
    assert not [n for n in wheel if n.endswith("entry_points.txt")]  # no mbrl-course script
    metadata = wheel[f"{dist}/METADATA"].decode()
    assert re.findall(r"^Requires-Dist: (\S+)$", metadata, re.M) == _pins(root)
    assert "Version: 0.1.0+student" in metadata
    record = [line.split(",") for line in wheel[f"{dist}/RECORD"].decode().splitlines()]
    assert sorted(r[0] for r in record) == sorted(wheel)
    for path, digest, size in record:
        if path != f"{dist}/RECORD":
            sha = base64.urlsafe_b64encode(hashlib.sha256(wheel[path]).digest()).rstrip(b"=")
            assert (digest, size) == (f"sha256={sha.decode()}", str(len(wheel[path]))), path


def test_student_wheel_configures_jupyter_for_students_only(kit):
    wheel = _wheel(kit)
    etc = "mbrl_helpers-0.1.0+student.data/data/etc/jupyter"
    page = json.loads(wheel[f"{etc}/labconfig/page_config.d/mbrl_helpers_student.json"])
    assert page == {"disabledExtensions": {p: True for p in DISABLED_LAB_PLUGINS}}
    assert "@jupyter/nbgrader:validate-assignment" not in page["disabledExtensions"]
    for ext in DISABLED_SERVER_EXTENSIONS:
        data = json.loads(wheel[f"{etc}/jupyter_server_config.d/{ext}.json"])
        assert data == {"ServerApp": {"jpserver_extensions": {ext: False}}}
    assert "validate_assignment" not in " ".join(DISABLED_SERVER_EXTENSIONS)
    assert 'transport_encryption = "auto"' in wheel[f"{etc}/jupyter_config.py"].decode()
    assert f"{etc}/nbgrader_config.py" in wheel


def test_kit_holds_no_solution_hidden_test_or_verdict_text(root, kit):
    secrets = course_secrets(root)
    assert find_kit_leaks(kit, secrets) == []
    assert not [n for n in kit if "solutions/" in n or "/tests/" in n]
    # The scan finds a solution pasted into the README, verdict code inside the wheel, and a
    # marker: it would notice a leak.
    verdicts = verdict_pairs(nbformat.read(root / "solutions" / f"{NB}.ipynb", as_version=4))
    verdict = sorted(verdicts & secrets)[0]
    wheel = _wheel(kit)
    wheel["mbrl_helpers/extra.py"] = "\n".join(verdict).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in wheel.items():
            zf.writestr(name, data)
    pair = sorted(p for p in secrets if not p[0].startswith("#"))[0]
    bad = {**kit, f"{KIT}/README.md": ("\n".join(pair) + "\n### BEGIN SOLUTION").encode(),
           f"{KIT}/{WHEEL}": buffer.getvalue()}
    leaks = find_kit_leaks(bad, secrets)
    assert any(leak.startswith(f"{KIT}/README.md contains solution") for leak in leaks)
    assert any("BEGIN SOLUTION" in leak for leak in leaks)
    assert any(leak.startswith(f"{KIT}/{WHEEL}:mbrl_helpers/extra.py") for leak in leaks)


def test_student_kit_refuses_what_it_cannot_build(root, tmp_path, capsys):
    assert main(["--root", str(root), "student-kit", str(tmp_path / "kit.tar")]) == 2
    assert "does not end in .zip" in capsys.readouterr().err
    course = tmp_path / "course"  # a one-notebook course whose release leaks its solution
    course.mkdir()
    for part in ["pyproject.toml", "mbrl_helpers"]:
        (shutil.copytree if (root / part).is_dir() else shutil.copy)(root / part, course / part)
    (course / "solutions").mkdir()
    shutil.copy(root / "solutions" / f"{NB}.ipynb", course / "solutions")
    with pytest.raises(CourseError, match="notebooks/00_course_tour.ipynb is missing"):
        build_kit(course, tmp_path / "kit.zip", check_release=False)
    (course / "notebooks").mkdir()
    shutil.copy(root / "solutions" / f"{NB}.ipynb", course / "notebooks")
    with pytest.raises(CourseError, match="the kit would leak: .*00_course_tour.ipynb"):
        build_kit(course, tmp_path / "kit.zip", check_release=False)
    assert not (tmp_path / "kit.zip").exists()


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    return student_env(tmp_path_factory)


# Runs in the student's venv: what it imports, and the Jupyter configuration that JupyterLab
# (its page config) and the Jupyter server (its server extensions) compute, as `jupyter
# labextension list` and `jupyter server extension list` do, without their seconds of imports.
_INSTALLED = r"""
import importlib, json, os, pkgutil, shutil, sys
from jupyter_core.paths import jupyter_config_path, jupyter_path
from jupyter_server.extension.config import ExtensionConfigManager
from jupyterlab_server.config import get_page_config
import mbrl_helpers

names = [m.name for m in pkgutil.walk_packages(mbrl_helpers.__path__, "mbrl_helpers.")]
files = [importlib.import_module(name).__file__ for name in names]
try:
    import mbrl_helpers.grading.autograde
    grader = True
except ModuleNotFoundError:
    grader = False
print(json.dumps({
    "prefix": sys.prefix, "names": names, "files": files, "grader": grader,
    "mbrl_course": shutil.which("mbrl-course"), "scripts": os.listdir(sys.prefix + "/bin"),
    "lab_disabled": get_page_config(jupyter_path("labextensions"))["disabledExtensions"],
    "lab_extensions": [e["name"] for e in get_page_config(jupyter_path("labextensions"))[
        "federated_extensions"]],
    "servers": ExtensionConfigManager(
        read_config_path=jupyter_config_path()).get_jpserver_extensions()}))
"""


@pytest.mark.slow
def test_fresh_venv_installs_the_kit_without_the_grader(student):
    print(f"kit installed in a fresh venv in {student.install_seconds:.0f} s")
    probe = student.run("python", "-c", _INSTALLED)
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    assert all(f.startswith(found["prefix"]) for f in found["files"])  # not the repository's
    assert "mbrl_helpers.grading.probe" in found["names"]
    assert not [n for n in found["names"] if n.startswith("mbrl_helpers.grading.")
                and n != "mbrl_helpers.grading.probe"]
    assert not found["grader"] and found["mbrl_course"] is None
    assert "mbrl-course" not in found["scripts"] and "jupyter-lab" in found["scripts"]
    assert "@jupyter/nbgrader" in found["lab_extensions"]
    assert sorted(found["lab_disabled"]) == sorted(DISABLED_LAB_PLUGINS)
    servers = found["servers"]
    assert servers["nbgrader.server_extensions.validate_assignment"] is True
    assert {ext: servers[ext] for ext in DISABLED_SERVER_EXTENSIONS} == dict.fromkeys(
        DISABLED_SERVER_EXTENSIONS, False)
    check = student.run("pip", "check")
    assert check.returncode == 0, check.stdout


# Runs in the student's venv: every release notebook's cells before its first exercise, in one
# kernel (imports are paid once) with a clean namespace per notebook (%reset).
_RUN_TO_FIRST_EXERCISE = r"""
import json, sys, time
import nbformat
from nbclient import NotebookClient

own = "import mbrl_helpers, sys\nprint(mbrl_helpers.__file__.startswith(sys.prefix))"
cells, owner = [nbformat.v4.new_code_cell(own)], [""]
for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    first = next(i for i, c in enumerate(nb.cells)
                 if c.cell_type == "code" and "raise NotImplementedError" in c.source)
    cells += [nbformat.v4.new_code_cell("%reset -f")] + nb.cells[:first]
    owner += [path] * (first + 1)
nb = nbformat.v4.new_notebook(cells=cells, metadata=nb.metadata)
started = time.perf_counter()
NotebookClient(nb, timeout=300, allow_errors=True, resources={"metadata": {"path": "notebooks"}}
               ).execute()
problems = [f"{owner[i]} cell {c.source[:60]!r}: "
            + (o.get("ename", "") + " " + o.get("evalue", "") if o.output_type == "error"
               else "stderr " + o.get("text", "")[:300])
            for i, c in enumerate(cells) if c.cell_type == "code" for o in c.outputs
            if o.output_type == "error" or o.get("name") == "stderr"]
print(json.dumps({"seconds": time.perf_counter() - started, "problems": problems,
                  "own_package": cells[0].outputs[0]["text"].strip()}))
"""


@pytest.mark.slow
def test_blank_notebooks_run_to_their_first_exercise(root, student):
    paths = [f"notebooks/{name}.ipynb" for name in notebook_names(root)]
    done = student.run("python", "-c", _RUN_TO_FIRST_EXERCISE, *paths, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    print(f"{len(paths)} notebooks up to their first exercise in {result['seconds']:.0f} s")
    assert result["own_package"] == "True"  # the kit's mbrl_helpers, not the repository's
    assert result["problems"] == []


@pytest.mark.slow
def test_nbgrader_validate_reports_failures_without_warnings(student):
    done = student.run("nbgrader", "validate", f"notebooks/{NB}.ipynb", timeout=300)
    assert "VALIDATION FAILED ON" in done.stdout and "NotImplementedError" in done.stdout
    noise = [line for line in done.stderr.splitlines() if "| INFO]" not in line]
    assert noise == [], done.stderr  # no missing-config or "TCP without encryption" warning
