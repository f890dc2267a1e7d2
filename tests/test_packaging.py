"""Installation facts the README promises: same pins everywhere, nbgrader's JupyterLab
extension enabled, the `mbrl-course` console script installed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path


def _pyproject_pins(root):
    data = tomllib.loads((root / "pyproject.toml").read_text())
    deps = data["project"]["dependencies"] + data["project"]["optional-dependencies"]["dev"]
    return dict(dep.split("==") for dep in deps)


def test_every_dependency_is_pinned_exactly(root):
    data = tomllib.loads((root / "pyproject.toml").read_text())
    deps = data["project"]["dependencies"] + data["project"]["optional-dependencies"]["dev"]
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*", d) for d in deps), deps
    assert _pyproject_pins(root)["torch"] == "2.13.0"


def test_environment_yml_carries_the_same_pins(root):
    text = (root / "environment.yml").read_text()
    conda = dict(re.findall(r"^\s*-\s*([A-Za-z0-9_.-]+)==(\S+)\s*$", text, flags=re.M))
    assert conda == _pyproject_pins(root)
    assert re.search(r"^\s*- python=3\.11\s*$", text, flags=re.M)


def test_nbgrader_lab_extension_and_validate_server_extension_are_enabled():
    jupyter = Path(sys.executable).parent / "jupyter"
    labs = subprocess.run([str(jupyter), "labextension", "list"], capture_output=True,
                          text=True, timeout=120)
    lab_text = re.sub(r"\x1b\[[0-9;]*m", "", labs.stdout + labs.stderr)
    assert re.search(r"@jupyter/nbgrader v0\.9\.\d+ enabled", lab_text), lab_text
    servers = subprocess.run([str(jupyter), "server", "extension", "list"],
                             capture_output=True, text=True, timeout=120)
    server_text = re.sub(r"\x1b\[[0-9;]*m", "", servers.stdout + servers.stderr)
    assert "nbgrader.server_extensions.validate_assignment enabled" in server_text


def test_console_script_is_installed():
    script = shutil.which("mbrl-course", path=str(Path(sys.executable).parent))
    assert script is not None
    out = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "autograde" in out.stdout


def test_built_wheel_contains_no_solution_or_hidden_test_code(root, tmp_path):
    import zipfile

    import nbformat

    from mbrl_helpers.grading.release import secret_pairs, text_pairs

    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(tmp_path), str(root)],
                   check=True, capture_output=True, timeout=300)
    wheel = next(tmp_path.glob("*.whl"))
    secrets = set()
    for path in sorted((root / "solutions").glob("*.ipynb")):
        secrets |= secret_pairs(nbformat.read(path, as_version=4))
    assert secrets
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert not [n for n in names if n.endswith(".ipynb") or n.startswith("tests/")]
        for name in names:
            pairs = text_pairs(zf.read(name).decode("utf-8", errors="replace"))
            leaked = sorted(pairs & secrets)
            assert not leaked, f"{wheel.name}:{name} contains solution code {leaked[:2]}"
