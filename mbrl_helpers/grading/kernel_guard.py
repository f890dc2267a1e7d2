"""Inside the grading kernel: resource limits, an audit hook, and tamper detection.

Loaded by the autograder as an IPython extension of every grading kernel
(``--IPKernelApp.extensions=mbrl_helpers.grading.kernel_guard``), before any student code runs.
Configured through environment variables set by :mod:`mbrl_helpers.grading.executor`:

``MBRL_GUARD_REPORT``   file to append JSON-line events to (tampering, blocked calls);
``MBRL_GUARD_DENY``     folders the student's code may not read or list (``os.pathsep``-separated);
``MBRL_GUARD_SANDBOXED`` ``1`` when the kernel runs in the bubblewrap sandbox: no audit hook
                       then, since the operating system hides and refuses what it refused;
``MBRL_GUARD_PRELOAD``  modules to import now, so their pristine state can be recorded;
``MBRL_GUARD_MEM_MB``   address-space limit of the kernel (MiB); ``MBRL_GUARD_CPU_S`` CPU seconds.

What it does:

* ``setrlimit`` caps memory (a memory bomb raises ``MemoryError``) and CPU time (the kernel
  is killed by ``SIGXCPU``; the grader restarts it and goes on).
* A ``sys.addaudithook`` hook (which Python code cannot remove) refuses to open or list
  files under the denied folders or any ``.ipynb``/gradebook file, to connect to SQLite,
  to start processes, to send signals, or to raise resource limits; each refusal is
  reported.
* Before and after every cell, the functions tests rely on (``numpy``, ``numpy.testing``,
  ``math``, ``torch``, ``builtins``, ``mbrl_helpers``...) are compared with the state
  recorded before the first cell; anything replaced is put back and reported with the
  hash of the cell that did it. The grader then withdraws the points of a test cell
  during which tampering happened.

A determined student with knowledge of these internals can still defeat checks made
inside the kernel they control; see the README ("What the autograder defends against").
"""

from __future__ import annotations

import builtins
import hashlib
import importlib
import json
import os
import sys
import time

PROTECTED = ("builtins", "math", "numpy", "numpy.testing", "numpy.linalg", "torch",
             "torch.testing", "mbrl_helpers")
ALIASES = {"np": "numpy", "math": "math", "torch": "torch"}
PROCESS_EVENTS = {"os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.exec",
                  "os.system", "subprocess.Popen", "pty.spawn", "os.startfile"}
SIGNAL_EVENTS = {"os.kill", "os.killpg", "signal.pthread_kill"}
SECRET_SUFFIXES = (".ipynb", "gradebook.db", ".db")


def cell_hash(source: str) -> str:
    """Hash identifying a cell's source in reports (also computed by the grader)."""
    return hashlib.sha1(source.strip().encode("utf-8")).hexdigest()[:16]


def _protected_modules() -> dict[str, object]:
    mods = {}
    for name, module in list(sys.modules.items()):
        if module is not None and any(name == p or name.startswith(p + ".") for p in PROTECTED):
            if name.startswith("mbrl_helpers.grading") or name.startswith("torch._"):
                continue
            if name.startswith("torch.") and name not in PROTECTED:
                continue
            mods[name] = module
    return mods


def _public_callables(space: dict) -> dict:
    return {k: v for k, v in space.items() if not k.startswith("_") and callable(v)}


def _snapshot(modules: dict[str, object]) -> list[tuple[str, object, dict]]:
    """(label, owner, saved attributes) for each protected module and each class defined in
    an mbrl_helpers module. Only public callables (functions, classes) are kept."""
    snap = []
    for name, module in modules.items():
        space = _public_callables(vars(module))
        snap.append((name, module, space))
        if name.startswith("mbrl_helpers"):
            for attr, value in space.items():
                if isinstance(value, type) and getattr(value, "__module__", "") == name:
                    snap.append((f"{name}.{attr}", value, _public_callables(vars(value))))
    return snap


class Guard:
    """Records the pristine state, restores it around cells and reports events."""

    # swapped by IPython/ipykernel themselves around every execution
    IGNORED_BUILTINS = {"exit", "quit", "get_ipython", "display", "help", "copyright",
                        "credits", "license", "input", "raw_input", "getpass"}

    def __init__(self, report_path: str | None):
        self._report = open(report_path, "a", encoding="utf-8") if report_path else None
        self._modules: dict[str, object] = {}
        self._snap: list[tuple[str, object, dict]] = []
        self.cell = ""

    def report(self, kind: str, detail: str) -> None:
        if self._report is not None and not self._report.closed:
            event = {"kind": kind, "detail": detail, "cell": self.cell, "time": time.time()}
            self._report.write(json.dumps(event) + "\n")
            self._report.flush()

    def record(self) -> None:
        self._modules = _protected_modules()
        self._snap = _snapshot(self._modules)

    def restore(self) -> list[str]:
        """Put back every replaced protected attribute; return what was replaced."""
        changed = []
        for name, module in self._modules.items():
            if sys.modules.get(name) is not module:
                sys.modules[name] = module
                changed.append(f"sys.modules[{name!r}]")
        for label, owner, saved in self._snap:
            current = vars(owner)
            for attr, value in saved.items():
                if label == "builtins" and attr in self.IGNORED_BUILTINS:
                    continue
                if current.get(attr, _MISSING) is not value:
                    setattr(owner, attr, value)
                    changed.append(f"{label}.{attr}")
        return changed

    def restore_aliases(self, user_ns: dict) -> list[str]:
        changed = []
        for alias, module_name in ALIASES.items():
            module = self._modules.get(module_name)
            if module is not None and alias in user_ns and user_ns[alias] is not module:
                user_ns[alias] = module
                changed.append(f"the name {alias!r}")
        return changed


_MISSING = object()


def _denied(path: str, deny: tuple[str, ...]) -> bool:
    real = os.path.realpath(path)
    if real.endswith(SECRET_SUFFIXES):
        return True
    return any(real == root or real.startswith(root + os.sep) for root in deny)


def install_audit_hook(guard: Guard, deny: tuple[str, ...]) -> None:
    """Refuse file access to ``deny``, process creation, signals and rlimit changes."""
    state = {"busy": False}

    def hook(event: str, args: tuple) -> None:
        if state["busy"]:
            return
        state["busy"] = True
        try:
            problem = None
            if event in ("open", "os.listdir", "os.scandir") and args and args[0] is not None:
                target = args[0]
                if not isinstance(target, int):
                    path = os.fsdecode(target)
                    if _denied(path, deny):
                        problem = f"access to {path}"
            elif event == "sqlite3.connect":
                problem = "opening a database"
            elif event in PROCESS_EVENTS:
                problem = f"starting a process ({event})"
            elif event in SIGNAL_EVENTS:
                problem = f"sending a signal ({event})"
            elif event == "resource.setrlimit":
                problem = "changing resource limits"
            if problem:
                guard.report("blocked", problem)
                raise PermissionError(f"not allowed while grading: {problem}")
        finally:
            state["busy"] = False

    sys.addaudithook(hook)


def _set_limits(mem_mb: int | None, cpu_s: int | None) -> None:
    import resource

    if mem_mb:
        limit = int(mem_mb) * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if cpu_s:
        resource.setrlimit(resource.RLIMIT_CPU, (int(cpu_s), int(cpu_s) + 5))


def load_ipython_extension(ip) -> None:
    """Entry point: IPython calls it while the grading kernel starts."""
    env = os.environ
    for name in filter(None, env.get("MBRL_GUARD_PRELOAD", "").split(",")):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    importlib.import_module("mbrl_helpers.checks")
    guard = Guard(env.get("MBRL_GUARD_REPORT"))
    _set_limits(int(env.get("MBRL_GUARD_MEM_MB") or 0), int(env.get("MBRL_GUARD_CPU_S") or 0))
    if env.get("MBRL_GUARD_SANDBOXED") != "1":  # in the sandbox the OS refuses all of it
        deny = tuple(os.path.realpath(p)
                     for p in env.get("MBRL_GUARD_DENY", "").split(os.pathsep) if p)
        install_audit_hook(guard, deny)
    state = {"recorded": False}

    def pre_run_cell(info) -> None:
        if not state["recorded"]:
            guard.record()
            state["recorded"] = True
        changed = guard.restore() + guard.restore_aliases(ip.user_ns)
        if changed:
            guard.report("tampered", ", ".join(changed))
        guard.cell = cell_hash(getattr(info, "raw_cell", "") or "")

    def post_run_cell(result) -> None:
        changed = guard.restore() + guard.restore_aliases(ip.user_ns)
        if changed:
            guard.report("tampered", ", ".join(changed))

    ip.events.register("pre_run_cell", pre_run_cell)
    ip.events.register("post_run_cell", post_run_cell)
    builtins.__dict__.setdefault("__mbrl_graded__", True)
