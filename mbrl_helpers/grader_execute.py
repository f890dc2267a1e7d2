"""The autograder's execute step: nbgrader's ``Execute``, made robust for untrusted code.

:class:`GuardedExecute` replaces nbgrader's ``Execute`` preprocessor while autograding
(never while students validate). Compared with nbgrader's, it

* starts every kernel in an empty scratch folder, with one thread per math library,
  ``PYTHONHASHSEED=0``, and the :mod:`mbrl_helpers.grader_guard` extension (resource
  limits, audit hook, tamper detection);
* survives a kernel that dies (``os._exit``, a CPU-time limit, a segfault) or that ignores
  the interrupt sent at the cell timeout: it marks the cell as failed, kills the kernel's
  process group, starts a fresh kernel, silently re-runs the cells before it, and goes on,
  so the cells already graded keep their results (nbgrader alone loses the notebook);
* caps the text a cell may print, so a print loop cannot exhaust the grader's memory;
* keeps what a graded cell writes to stderr (a warning, a debug print) as stdout text,
  because nbgrader would otherwise give a correct answer zero for it.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile

from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import Execute
from traitlets import Integer, List, Unicode

GUARD_EXTENSION = "mbrl_helpers.grader_guard"
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


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
    max_output_chars = Integer(100_000, help="printed characters kept per cell").tag(
        config=True)
    deny_paths = List(Unicode(), help="folders student code may not read").tag(config=True)
    report_dir = Unicode("", help="folder for the guard's per-notebook reports").tag(
        config=True)
    preload = List(Unicode(), help="modules imported before the first cell").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._restarts = 0
        self._crashed: set[int] = set()
        self._given_up = False
        self._stream_chars: dict[int, int] = {}
        self.extra_arguments = ["--HistoryManager.hist_file=:memory:",
                                f"--IPKernelApp.extensions={GUARD_EXTENSION}"]
        meta = (resources or {}).get("nbgrader", {})
        name = f"{meta.get('student', 'student')}__{meta.get('notebook', 'notebook')}"
        self._report = os.path.join(self.report_dir, name + ".jsonl") if self.report_dir else ""
        sandbox = tempfile.mkdtemp(prefix="mbrl-kernel-")
        resources = dict(resources or {})
        resources["metadata"] = {**resources.get("metadata", {}), "path": sandbox}
        try:
            return super().preprocess(nb, resources, km)
        finally:
            shutil.rmtree(sandbox, ignore_errors=True)

    def _kernel_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({var: "1" for var in THREAD_VARS})
        env.update({
            "PYTHONHASHSEED": "0",
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "MBRL_GUARD_REPORT": self._report,
            "MBRL_GUARD_DENY": os.pathsep.join(self.deny_paths),
            "MBRL_GUARD_PRELOAD": ",".join(self.preload),
            "MBRL_GUARD_MEM_MB": str(self.memory_mb),
            "MBRL_GUARD_CPU_S": str(self.cpu_seconds),
        })
        return env

    async def async_start_new_kernel(self, **kwargs):
        kwargs.setdefault("env", self._kernel_env())
        await super().async_start_new_kernel(**kwargs)

    start_new_kernel = run_sync(async_start_new_kernel)  # the base binds its own coroutine

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        if self._given_up:
            cell.outputs = [_error("KernelRestartLimit", "not run: the kernel was restarted "
                                   f"{self.max_restarts} times in this notebook")]
            return cell, self.resources
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
            if utils.is_grade(cell):
                _stderr_to_stdout(cell)
            return cell, resources
        except (DeadKernelError, CellTimeoutError) as err:
            if isinstance(err, DeadKernelError):
                reason = ("the kernel died (a crash, os._exit, or the memory or CPU-time "
                          "limit); it was restarted and the cells above were re-run")
                cell.outputs.append(_error("DeadKernelError", reason))
            else:
                reason = (f"the cell ran longer than {self.timeout} s and did not stop when "
                          "interrupted; the kernel was restarted and the cells above re-run")
                cell.outputs.append(_error("CellTimeoutError", reason))
            self._crashed.add(index)
            self._restart(index)
            return cell, self.resources

    def _restart(self, failed_index: int) -> None:
        """Kill the kernel (and its process group), start a new one, replay earlier cells."""
        self._restarts += 1
        self.shutdown_kernel = "immediate"
        self._cleanup_kernel()
        if self._restarts > self.max_restarts:
            self._given_up = True
            self.km = self.create_kernel_manager()  # setup_kernel's cleanup expects one
            return
        self.km = self.create_kernel_manager()
        self.start_new_kernel(cwd=self.resources["metadata"]["path"])
        self.start_new_kernel_client()
        self.wait_for_reply(self.kc.kernel_info())
        for i, earlier in enumerate(self.nb.cells[:failed_index]):
            if earlier.cell_type == "code" and i not in self._crashed:
                try:
                    self.execute_cell(copy.deepcopy(earlier), i, store_history=False)
                except (DeadKernelError, CellTimeoutError):
                    self._crashed.add(i)
                    return self._restart(failed_index)

    def output(self, outs, msg, display_id, cell_index):
        if msg.get("msg_type") == "stream":
            used = self._stream_chars.get(cell_index, 0)
            text = msg["content"].get("text", "")
            self._stream_chars[cell_index] = used + len(text)
            if used >= self.max_output_chars:
                return None
            if used + len(text) > self.max_output_chars:
                msg = {**msg, "content": {**msg["content"], "text": text[
                    : self.max_output_chars - used] + "\n[output truncated by the grader]\n"}}
        return super().output(outs, msg, display_id, cell_index)


def autograde_preprocessors() -> list:
    """nbgrader's autograde preprocessors with ``Execute`` replaced by :class:`GuardedExecute`."""
    from nbgrader.converters import Autograde

    default = Autograde.class_traits()["autograde_preprocessors"].default()
    return [GuardedExecute if pp is Execute else pp for pp in default]
