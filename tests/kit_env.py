"""The student kit installed the way its README tells a student: a fresh virtual environment,
``pip install -r requirements.txt WHEEL``. Built once per test session (about 50 s on 2 cores,
most of it unpacking PyTorch) and shared by ``test_student_kit.py`` and
``test_browser_lab.py``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from mbrl_helpers.grading.student_kit import build_kit

ROOT = Path(__file__).resolve().parent.parent
KIT = "mbrl-course-kit"
_CACHE: dict[str, StudentEnv | str] = {}  # the env, or why installing it failed


@dataclass(frozen=True)
class StudentEnv:
    """An unpacked kit (``kit``) with its README's virtual environment in ``kit/.venv``."""

    zip: Path
    kit: Path
    install_seconds: float
    env: dict[str, str]

    def bin(self, name: str) -> str:
        return str(self.kit / ".venv" / "bin" / name)

    def run(self, *args: str, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
        """Run a command of the venv (``jupyter``, ``python``...) in the kit folder."""
        return subprocess.run([self.bin(args[0]), *args[1:]], cwd=kwargs.pop("cwd", self.kit),
                              env=self.env, capture_output=True, text=True, timeout=timeout,
                              **kwargs)


def _environment(work: Path, venv: Path) -> dict[str, str]:
    """The kit's venv first on PATH and no other venv on it; Jupyter's and IPython's
    per-user folders empty and private to the test, so that a developer's own ~/.jupyter
    settings cannot change what is tested."""
    for folder in ["config", "data", "runtime", "ipython"]:
        (work / "user" / folder).mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    # no other virtual environment on PATH (the test runner's, or one a developer activated):
    # the student's shell has only the kit's
    path = [p for p in env.get("PATH", "").split(os.pathsep)
            if p and not (Path(p).parent / "pyvenv.cfg").exists()]
    env.update(VIRTUAL_ENV=str(venv), PATH=os.pathsep.join([str(venv / "bin"), *path]),
               JUPYTER_CONFIG_DIR=str(work / "user" / "config"),
               JUPYTER_DATA_DIR=str(work / "user" / "data"),
               JUPYTER_RUNTIME_DIR=str(work / "user" / "runtime"),
               IPYTHONDIR=str(work / "user" / "ipython"), MPLBACKEND="Agg")
    return env


def _install(work: Path) -> StudentEnv | str:
    kit_zip = build_kit(ROOT, work / f"{KIT}.zip", check_release=False).path
    with zipfile.ZipFile(kit_zip) as zf:
        zf.extractall(work)
    kit = work / KIT
    wheel = next(kit.glob("*.whl")).name
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(kit / ".venv")], check=True, timeout=120)
    env = _environment(work, kit / ".venv")
    # The README's command; --no-compile only skips writing .pyc files ahead of time (the
    # imports compile what they use), which saves about a minute of CPU on 2 cores.
    done = subprocess.run([str(kit / ".venv" / "bin" / "pip"), "install", "--no-compile", "-q",
                           "-r", "requirements.txt", wheel], cwd=kit, env=env,
                          capture_output=True, text=True, timeout=900)
    if done.returncode:
        return f"installing the kit failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return StudentEnv(kit_zip, kit, time.perf_counter() - started, env)


def student_env(tmp_path_factory: pytest.TempPathFactory) -> StudentEnv:
    """The session's installed kit (built on first use; a failed install is not retried)."""
    if "env" not in _CACHE:
        _CACHE["env"] = _install(tmp_path_factory.mktemp("student"))
    if isinstance(_CACHE["env"], str):
        pytest.fail(_CACHE["env"])
    return _CACHE["env"]
