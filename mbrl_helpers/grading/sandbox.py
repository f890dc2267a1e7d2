"""The operating-system sandbox of every grading kernel (bubblewrap).

A student's notebook runs as untrusted code. Checks made inside the Python interpreter that
runs it can always be undone by that code, so isolation is left to the kernel of the
operating system: every grading kernel is started through ``bwrap`` (bubblewrap, the
sandbox Flatpak uses; no daemon, no root needed) and sees

* the system directories, the Python installation, the virtual environment and the
  ``mbrl_helpers`` package (without its ``grading`` subpackage, except the one module
  loaded in the kernel), all **read-only**;
* a private, size-capped, empty ``/tmp`` holding its ``HOME`` and its working folder;
* its own *kernel folder* (the connection file and the kernel's sockets), read-write;
* nothing else: not the course directory, the gradebook, ``solutions/``, ``tests/``, the
  class folder, other students, the worker's files or other kernels' connection files.

It has no network (its own empty network namespace), its own PID namespace (it cannot see
or signal the grader), a new user namespace (with an unprivileged uid: when the grader runs
as root the kernel is started as ``nobody``), no capabilities, and it is killed with its
parent (``--die-with-parent``); when its PID namespace's init exits, every process it
started dies too, so nothing survives its student.

**Transport.** TCP on loopback cannot cross a network namespace, so the kernel talks to the
grader over ZeroMQ's ``ipc`` transport: Unix sockets in the kernel folder, which is mounted
at the same path inside and outside. Unix sockets are files, so they obey the same mount
rules as everything else: a kernel sees only its own.

**Limits.** Address space, CPU time, core dumps and file size are set with ``prlimit``
before the sandbox starts (the kernel cannot raise a hard limit); the per-cell timeout and
the per-notebook budget are enforced by the grader from outside.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MODES = ("auto", "bwrap", "none")
#: System folders mounted read-only (when they exist; symlinks are recreated as symlinks).
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/opt/conda")
#: Files and folders of /etc a Python kernel needs (dynamic linker, fonts, time zone, users).
ETC_ENTRIES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "fonts", "localtime", "passwd",
               "group", "nsswitch.conf", "alternatives", "matplotlibrc")
#: The unprivileged user a root grader drops to.
NOBODY = 65534
#: Size of the kernel's private /tmp (its HOME and working folder live there).
TMP_BYTES = 256 * 2**20
#: Largest file a kernel may write (bytes).
MAX_FILE_BYTES = 64 * 2**20
#: Processes (threads included) of the kernel's real user: nobody, or the TA's own user.
MAX_PROCESSES = 4096
#: The only grader modules the kernel imports (the guard; the probes' recorder).
KERNEL_MODULES = ("__init__.py", "kernel_guard.py", "probe.py")


class SandboxError(RuntimeError):
    """bubblewrap was asked for but cannot run here."""


@functools.cache
def bwrap_problem() -> str | None:
    """Why ``bwrap`` cannot sandbox a kernel on this machine, or None when it can."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap needs Linux (this is {sys.platform})"
    exe = shutil.which("bwrap")
    if exe is None:
        return "bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    if shutil.which("prlimit") is None:
        return "prlimit (util-linux) is missing: the kernel's limits could not be set"
    probe = [exe, "--ro-bind", "/", "/", *_namespaces(), "--die-with-parent", *_as_nobody(),
             "true"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"bwrap failed to start: {err}"
    if done.returncode != 0:
        return "bwrap cannot create namespaces here: " + (done.stderr.strip() or "no message")
    return None


def resolve_mode(mode: str) -> str:
    """``auto`` -> ``bwrap`` when it works here, else ``none``; ``bwrap`` must work.

    Raises:
        SandboxError: ``mode`` is ``bwrap`` and bubblewrap cannot run here.
        ValueError: an unknown mode.
    """
    if mode not in MODES:
        raise ValueError(f"sandbox must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "none":
        return "none"
    problem = bwrap_problem()
    if problem is None:
        return "bwrap"
    if mode == "bwrap":
        raise SandboxError(f"--sandbox bwrap: {problem}")
    return "none"


def _namespaces() -> list[str]:
    """Every namespace but the user namespace for a root grader (it needs none: the kernel
    drops to the real user ``nobody`` inside, see :func:`_as_nobody`); a user's grader gets
    a user namespace in which the kernel is ``nobody``."""
    shared = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
              "--unshare-cgroup-try"]
    if os.geteuid() == 0:
        return shared
    return [*shared, "--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY),
            "--cap-drop", "ALL"]


def _as_nobody() -> list[str]:
    """Inside a root grader's sandbox, become the unprivileged ``nobody`` before the kernel
    starts, with no capabilities left and no way to regain privileges."""
    if os.geteuid() != 0:
        return []
    return ["/usr/bin/setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]


def _package_dir() -> Path:
    import mbrl_helpers

    return Path(mbrl_helpers.__file__).resolve().parent


def _system_mounts() -> list[str]:
    """System folders and the few /etc entries a kernel needs, read-only."""
    args: list[str] = []
    for folder in SYSTEM_DIRS:
        if os.path.islink(folder):
            args += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    for entry in ETC_ENTRIES:
        path = os.path.join("/etc", entry)
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    return args


def _python_paths() -> list[str]:
    """The Python installation and the environment (outside /usr), read-only."""
    found = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, sys.exec_prefix)}
    found.add(str(Path(sys.executable).parent))
    return sorted(p for p in found if not p.startswith("/usr/"))


def _parents(paths: list[str]) -> list[str]:
    """``--dir`` for every folder above ``paths``: bwrap would create them private (0700),
    which the kernel's user could not walk through."""
    folders = sorted({str(parent) for p in paths for parent in Path(p).parents} - {"/"},
                     key=lambda f: (f.count("/"), f))
    return [arg for folder in folders for arg in ("--perms", "0755", "--dir", folder)]


def _limits(memory_mb: int, cpu_seconds: int) -> list[str]:
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        raise SandboxError("prlimit (util-linux) is missing")
    limits = [f"--as={memory_mb * 2**20}", f"--cpu={cpu_seconds}:{cpu_seconds + 5}",
              "--core=0", f"--fsize={MAX_FILE_BYTES}"]
    limits.append(f"--nproc={MAX_PROCESSES}")  # counted per real user: fork bombs stop here
    return [prlimit, *limits, "--"]


@dataclass(frozen=True)
class Sandbox:
    """How to start one kernel: its folder (connection file, sockets), its limits, and the
    files copied read-only into its HOME (a warm matplotlib font cache)."""

    kernel_dir: Path
    memory_mb: int
    cpu_seconds: int
    home_files: tuple[tuple[str, Path], ...] = ()

    HOME = "/tmp/home"
    WORKDIR = "/tmp/work"

    def prepare(self) -> None:
        """Create the kernel folder, owned by the kernel's user when the grader is root."""
        self.kernel_dir.mkdir(parents=True)
        self.kernel_dir.chmod(0o700)
        if os.geteuid() == 0:
            os.chown(self.kernel_dir, NOBODY, NOBODY)

    def hand_over(self, path: Path) -> None:
        """Give a file the grader wrote in the kernel folder (the connection file) to the
        kernel's user."""
        if os.geteuid() == 0:
            os.chown(path, NOBODY, NOBODY)

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` (the kernel's command) wrapped in the sandbox, with its limits."""
        package = _package_dir()
        mounts = [arg for folder in _python_paths() for arg in ("--ro-bind", folder, folder)]
        mounts += ["--ro-bind", str(package), str(package), "--tmpfs", str(package / "grading")]
        for name in KERNEL_MODULES:
            mounts += ["--ro-bind", *[str(package / "grading" / name)] * 2]
        home = [a for rel, src in self.home_files
                for a in ("--ro-bind", str(src), f"{self.HOME}/{rel}")]
        dirs = sorted({str(Path(self.HOME, rel).parent) for rel, _ in self.home_files})
        return [
            *_limits(self.memory_mb, self.cpu_seconds), shutil.which("bwrap") or "bwrap",
            *_namespaces(), "--die-with-parent", "--hostname", "grader",
            "--unsetenv", "JPY_PARENT_PID",  # a PID the kernel cannot see; see --die-with-parent
            *_system_mounts(), "--proc", "/proc", "--dev", "/dev",
            # /tmp first: a course cloned under /tmp is then mounted on top of it, not hidden
            "--perms", "1777", "--size", str(TMP_BYTES), "--tmpfs", "/tmp",
            *_parents([*_python_paths(), str(package), str(self.kernel_dir)]), *mounts,
            *[a for d in (self.HOME, self.WORKDIR, *dirs) for a in ("--perms", "0777", "--dir", d)],
            *home, "--bind", str(self.kernel_dir), str(self.kernel_dir),
            "--remount-ro", "/", "--chdir", self.WORKDIR, *_as_nobody(), *argv,
        ]
