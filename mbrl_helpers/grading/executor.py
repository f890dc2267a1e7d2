"""The autograder's execute step: nbgrader's ``Execute``, made robust for untrusted code.

:class:`GuardedExecute` replaces nbgrader's ``Execute`` preprocessor while autograding
(never while students validate). Compared with nbgrader's, it

* starts every kernel in the operating-system sandbox of :mod:`mbrl_helpers.grading.sandbox`
  (``sandbox="bwrap"``; with ``"none"``, in an empty scratch folder), with a clean
  environment, one thread per math library, ``PYTHONHASHSEED=0``, a warm matplotlib font
  cache, and the :mod:`mbrl_helpers.grading.kernel_guard` extension (audit hook, tamper
  detection);
* survives a kernel that dies (``os._exit``, a CPU-time limit, a segfault) or that ignores
  the interrupt sent at the cell timeout: it marks the cell as failed, kills the kernel's
  process group, starts a fresh kernel, silently re-runs the cells before it, and goes on,
  so the cells already graded keep their results (nbgrader alone loses the notebook);
* caps what a cell may output (streams, rich data, error values, number of outputs), so
  neither the grader's memory nor the autograded notebook and its feedback can grow without
  bound, and stops a notebook that exceeds its wall-clock budget (``notebook_budget``), so
  slow cells and kernel restarts cannot multiply the per-cell timeout;
* keeps what a graded cell writes to stderr (a warning, a debug print) as stdout text,
  because nbgrader would otherwise give a correct answer zero for it.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import Execute
from traitlets import Any, Integer, List, Unicode

from mbrl_helpers.grading.course import THREAD_VARS
from mbrl_helpers.grading.probe import GRADING_VAR, MIME
from mbrl_helpers.grading.sandbox import Sandbox
from mbrl_helpers.grading.verdict import MAX_RECORD_CHARS

GUARD_EXTENSION = "mbrl_helpers.grading.kernel_guard"
#: Environment variables a sandboxed kernel inherits from the grader (everything else,
#: tokens and paths included, stays outside).
PASSED_VARS = ("PATH", "LANG", "LC_ALL", "TZ", "MBRL_FAST", "NBGRADER_EXECUTION")
#: Bytes of a kernel's guard report the grader reads (the kernel wrote it: untrusted).
MAX_REPORT_BYTES = 1_000_000
#: Outputs kept per cell; characters kept of an error value.
MAX_OUTPUTS = 100
MAX_ERROR_CHARS = 2_000


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel started inside a :class:`~mbrl_helpers.grading.sandbox.Sandbox`.

    It speaks ZeroMQ over Unix sockets in its own kernel folder (``transport="ipc"``), and
    is interrupted by a message on its control channel: a SIGINT would reach ``bwrap``,
    which does not forward it, rather than the kernel."""

    sandbox = Any(None)

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        self.sandbox.hand_over(Path(self.connection_file))
        await super()._async_launch_kernel(self.sandbox.command(kernel_cmd), **kw)

    async def _async_interrupt_kernel(self) -> None:
        msg = self.session.msg("interrupt_request", content={})
        self._connect_control_socket()
        self.session.send(self._control_socket, msg)

    interrupt_kernel = _async_interrupt_kernel


def _stderr_to_stdout(cell: NotebookNode) -> None:
    """nbgrader gives zero to a test cell that wrote to stderr (a warning, a debug print);
    only exceptions should fail a test, so stderr text is kept but moved to stdout."""
    for output in cell.outputs:
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            output["name"] = "stdout"
            output["text"] = "".join(f"[stderr] {line}" for line in
                                     output.get("text", "").splitlines(keepends=True))


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"{ename}: {evalue}"])


class GuardedExecute(Execute):
    """nbgrader's Execute with limits, a guard extension and kernel restarts."""

    memory_mb = Integer(4096, help="address-space limit of a grading kernel (MiB)").tag(
        config=True)
    cpu_seconds = Integer(600, help="CPU-time limit of a grading kernel (s)").tag(config=True)
    max_restarts = Integer(5, help="kernel restarts allowed per notebook").tag(config=True)
    max_output_chars = Integer(100_000, help="output characters kept per cell (all types)").tag(
        config=True)
    deny_paths = List(Unicode(), help="folders student code may not read").tag(config=True)
    report_dir = Unicode("", help="folder for the guard's per-notebook reports").tag(
        config=True)
    preload = List(Unicode(), help="modules imported before the first cell").tag(config=True)
    sandbox = Unicode("none", help="'bwrap': every kernel in a bubblewrap sandbox").tag(
        config=True)
    warm_cache = Unicode("", help="folder of a matplotlib font cache built by the grader").tag(
        config=True)
    notebook_budget = Integer(0, help="wall-clock seconds a whole notebook may take, "
                              "restarts included (0: no budget)").tag(config=True)


    def preprocess(self, nb, resources=None, km=None):
        self._restarts = 0
        self._crashed: set[int] = set()  # cells never replayed after a restart
        self._retried: set[int] = set()  # setup cells already given a second try
        self._given_up = ""
        self._counts: dict[int, list[int]] = {}
        self._records: dict[int, int] = {}
        self._deadline = time.monotonic() + self.notebook_budget if self.notebook_budget else 0
        self._cell_timeout = self.timeout
        self.extra_arguments = ["--HistoryManager.hist_file=:memory:",
                                f"--IPKernelApp.extensions={GUARD_EXTENSION}"]
        meta = (resources or {}).get("nbgrader", {})
        name = f"{meta.get('student', 'student')}__{meta.get('notebook', 'notebook')}"
        self._report = os.path.join(self.report_dir, name + ".jsonl") if self.report_dir else ""
        self._work = Path(tempfile.mkdtemp(prefix="mbrl-kernel-"))
        self._kernels: list[Path] = []
        resources = dict(resources or {})
        resources["metadata"] = {**resources.get("metadata", {}), "path": str(self._work)}
        try:
            return super().preprocess(nb, resources, km)
        finally:
            self.timeout = self._cell_timeout
            self._collect_reports()
            shutil.rmtree(self._work, ignore_errors=True)

    def create_kernel_manager(self):
        if self.sandbox != "bwrap":
            return super().create_kernel_manager()
        self.kernel_manager_class = SandboxedKernelManager
        km = super().create_kernel_manager()
        kdir = self._work / f"kernel{len(self._kernels)}"
        cache = Path(self.warm_cache) if self.warm_cache else None
        files = tuple((f".mpl/{p.name}", p) for p in sorted(cache.glob("*.json"))) if cache else ()
        box = Sandbox(kdir, self.memory_mb, self.cpu_seconds, home_files=files)
        box.prepare()
        self._kernels.append(kdir)
        km.sandbox = box
        km.transport = "ipc"
        km.ip = str(kdir / "zmq")
        km.connection_file = str(kdir / "connection.json")
        return km

    def _collect_reports(self) -> None:
        """Append what each sandboxed kernel's guard wrote (capped) to the notebook's report."""
        if not self._report:
            return
        with open(self._report, "a", encoding="utf-8") as sink:
            for kdir in self._kernels:
                try:  # written by the kernel: no link followed, no special file, capped
                    fd = os.open(kdir / "guard.jsonl", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                except OSError:
                    continue
                with os.fdopen(fd, "rb") as handle:
                    if stat.S_ISREG(os.fstat(fd).st_mode):
                        sink.write(handle.read(MAX_REPORT_BYTES).decode("utf-8", "replace"))

    def _kernel_env(self) -> dict[str, str]:
        sandboxed = self.sandbox == "bwrap"
        env = {k: v for k, v in os.environ.items() if k in PASSED_VARS} if sandboxed else dict(
            os.environ)
        env.update({var: "1" for var in THREAD_VARS})
        env.update({
            "PYTHONHASHSEED": "0",
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "MBRL_GUARD_PRELOAD": ",".join(self.preload),
            "MBRL_GUARD_MEM_MB": str(self.memory_mb),
            "MBRL_GUARD_CPU_S": str(self.cpu_seconds),
            GRADING_VAR: "1",  # probes send their records (see mbrl_helpers.grading.probe)
        })
        if sandboxed:
            env.update({"HOME": Sandbox.HOME, "TMPDIR": "/tmp", "PYTHONNOUSERSITE": "1",
                        "PYTHONDONTWRITEBYTECODE": "1", "MPLCONFIGDIR": f"{Sandbox.HOME}/.mpl",
                        "MBRL_GUARD_SANDBOXED": "1",
                        "MBRL_GUARD_REPORT": str(self._kernels[-1] / "guard.jsonl")})
        else:
            env.update({"MBRL_GUARD_REPORT": self._report,
                        "MBRL_GUARD_DENY": os.pathsep.join(self.deny_paths)})
            if self.warm_cache:
                env["MPLCONFIGDIR"] = self.warm_cache
        return env

    async def async_start_new_kernel(self, **kwargs):
        kwargs["env"] = self._kernel_env()
        await super().async_start_new_kernel(**kwargs)

    start_new_kernel = run_sync(async_start_new_kernel)

    def _out_of_budget(self) -> bool:
        """Set the next cell's timeout to what is left of the notebook's budget."""
        if not self._deadline:
            return False
        left = self._deadline - time.monotonic()
        if left <= 1:
            self._given_up = (f"not run: the notebook used up its {self.notebook_budget} s "
                              "budget")
            return True
        self.timeout = max(1, min(self._cell_timeout, int(left)))
        return False

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        if self._given_up or self._out_of_budget():
            cell.outputs = [_error("NotRun", self._given_up)]
            return cell, self.resources
        try:
            started = time.monotonic()
            cell, resources = super().preprocess_cell(cell, resources, index)
            if self._interrupted_setup(cell, index, time.monotonic() - started):
                self._retried.add(index)  # an import cut short: a fresh kernel, a second go
                self._restart(index)
                return self.preprocess_cell(cell, resources, index)
            if utils.is_grade(cell):
                _stderr_to_stdout(cell)
            return cell, resources
        except (DeadKernelError, CellTimeoutError) as err:
            if isinstance(err, DeadKernelError):
                name, reason = "DeadKernelError", (
                    "the kernel died (a crash, os._exit, or the memory or CPU-time limit); it "
                    "was restarted and the cells above were re-run")
            else:
                name, reason = "CellTimeoutError", (
                    f"the cell ran longer than {self.timeout} s and did not stop when "
                    "interrupted; the kernel was restarted and the cells above re-run")
            retry = index not in self._retried and self._is_setup(index)
            self._retried.add(index)
            self._restart(index)
            if retry and not self._given_up:  # a slow import under load deserves a second go
                return self.preprocess_cell(cell, resources, index)
            self._crashed.add(index)
            if self._out_of_budget() or self._given_up:
                reason = f"{reason}; {self._given_up}"
            cell.outputs.append(_error(name, reason))
            return cell, self.resources

    def _interrupted_setup(self, cell, index: int, seconds: float) -> bool:
        """A setup cell stopped by the timeout's interrupt, not yet retried."""
        if seconds < self.timeout or index in self._retried or self._given_up:
            return False
        interrupted = any(o.get("ename") == "KeyboardInterrupt" for o in cell.outputs)
        return interrupted and self._is_setup(index)

    def _is_setup(self, index: int) -> bool:
        """Setup cells (imports, constants) come before the first cell nbgrader knows."""
        for cell in self.nb.cells[:index + 1]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("solution") or meta.get("grade") or meta.get("locked") is False:
                return False
        return True

    def _restart(self, failed_index: int) -> None:
        """Kill the kernel (and its process group), start a new one, replay earlier cells."""
        self._restarts += 1
        self.shutdown_kernel = "immediate"
        self._cleanup_kernel()
        if self._restarts > self.max_restarts:
            self._given_up = (f"not run: the kernel was restarted {self.max_restarts} times "
                              "in this notebook")
            self.km = self.create_kernel_manager()  # setup_kernel's cleanup expects one
            return
        self.km = self.create_kernel_manager()
        self.start_new_kernel(cwd=self.resources["metadata"]["path"])
        self.start_new_kernel_client()
        self.wait_for_reply(self.kc.kernel_info())
        for i, earlier in enumerate(self.nb.cells[:failed_index]):
            if earlier.cell_type == "code" and i not in self._crashed:
                if self._out_of_budget():
                    return
                try:
                    self.execute_cell(copy.deepcopy(earlier), i, store_history=False)
                except (DeadKernelError, CellTimeoutError):
                    self._crashed.add(i)
                    return self._restart(failed_index)

    def output(self, outs, msg, display_id, cell_index):
        """Keep a cell's outputs within ``max_output_chars`` (all types together) and
        ``MAX_OUTPUTS`` outputs; error values are shortened to ``MAX_ERROR_CHARS``."""
        kind = msg.get("msg_type")
        if kind not in ("stream", "display_data", "execute_result", "error",
                        "update_display_data"):
            return super().output(outs, msg, display_id, cell_index)
        content = msg.get("content", {})
        if kind in ("display_data", "execute_result") and MIME in content.get("data", {}):
            return self._record(outs, msg, cell_index)
        if kind == "error":
            content = {**content, "evalue": str(content.get("evalue", ""))[:MAX_ERROR_CHARS],
                       "traceback": [str(line)[:MAX_ERROR_CHARS]
                                     for line in content.get("traceback", [])[-20:]]}
        size = len(json.dumps(content, default=str))
        used, count = self._counts.setdefault(cell_index, [0, 0])
        self._counts[cell_index] = [used + size, count + 1]
        if used >= self.max_output_chars or count >= MAX_OUTPUTS:
            return None
        if used + size > self.max_output_chars:
            if kind != "stream":
                return super().output(outs, _note(msg, "[output removed by the grader: "
                                                  "it exceeds the cell's output cap]"),
                                      None, cell_index)
            text = str(content.get("text", ""))[: self.max_output_chars - used]
            content = {**content, "text": text + "\n[output truncated by the grader]\n"}
        return super().output(outs, {**msg, "content": content}, display_id, cell_index)


    def _record(self, outs, msg, cell_index):
        """A probe's record output: kept whole up to ``MAX_RECORD_CHARS`` (the verdict reads
        it), at most two per cell (one more than a test sends: enough to see a forgery)."""
        data = msg["content"]["data"]
        seen = self._records.get(cell_index, 0)
        self._records[cell_index] = seen + 1
        if seen >= 2:
            return None
        text = data.get(MIME)
        if not isinstance(text, str) or len(text) > MAX_RECORD_CHARS:
            text = "too large"
        content = {"data": {MIME: text}, "metadata": {}}
        return super().output(outs, {**msg, "msg_type": "display_data",
                                     "content": content}, None, cell_index)


def _note(msg: dict, text: str) -> dict:
    """A stdout stream message carrying ``text`` in place of ``msg``."""
    return {**msg, "msg_type": "stream", "header": {**msg.get("header", {}),
            "msg_type": "stream"}, "content": {"name": "stdout", "text": text + "\n"}}


def autograde_preprocessors() -> list:
    """nbgrader's autograde preprocessors with ``Execute`` replaced by :class:`GuardedExecute`
    followed by :class:`~mbrl_helpers.grading.verdicts.ApplyVerdicts`, and ``SaveAutoGrades``
    by :class:`~mbrl_helpers.grading.verdicts.VerdictGrades`."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import SaveAutoGrades

    from mbrl_helpers.grading.verdicts import ApplyVerdicts, VerdictGrades

    chain = []
    for pp in Autograde.class_traits()["autograde_preprocessors"].default():
        if pp is Execute:
            chain += [GuardedExecute, ApplyVerdicts]  # verdicts read the outputs unshortened
        else:
            chain.append(VerdictGrades if pp is SaveAutoGrades else pp)
    return chain
