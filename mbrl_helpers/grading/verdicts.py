"""Verdicts: the points of every graded cell, decided in the grader's process.

In a source notebook (``solutions/``) each graded test cell ends with its verdict::

    # Hidden tests for discounted_return (1 point): ...
    ### BEGIN HIDDEN TESTS
    _p = Probe()
    _p.call("G", discounted_return, [1.0, 2.0], gamma=0.5)
    _p.send()
    ### END HIDDEN TESTS
    ### BEGIN VERDICT
    def verdict(obs):
        G = number(obs.returned("G", "discounted_return([1, 2], 0.5)"), "the return")
        assert_close(G, 2.0, "discounted_return([1, 2], 0.5)")
    ### END VERDICT

:func:`strip_verdicts` removes the verdict before nbgrader sees the notebook, so neither
the release, nor the gradebook, nor the code sent to a grading kernel contains it; the
verdicts are kept in the grader's course directory (``verdicts/NAME.json``).
:class:`ApplyVerdicts` runs right after the notebook was executed: it takes each graded
cell's one record output out of the notebook, runs the cell's ``verdict(obs)`` on the
decoded records (:mod:`mbrl_helpers.grading.verdict`) and notes pass or fail with its
message. :class:`VerdictGrades` writes those results to the gradebook in place of
nbgrader's own rule (an error output scores 0, a number output is partial credit), so
nothing the kernel prints decides a score.

The verdict blocks of one notebook run, in cell order, in one namespace: a block may
import, or define a reference helper that later blocks use, and must define ``verdict``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import SaveAutoGrades
from traitlets import Bool, Unicode

from mbrl_helpers.grading.course import CourseError
from mbrl_helpers.grading.probe import MIME
from mbrl_helpers.grading.verdict import Observations, RecordError, parse_records

_BEGIN = re.compile(r"^\s*#+\s*BEGIN VERDICT\s*$")
_END = re.compile(r"^\s*#+\s*END VERDICT\s*$")
#: Metadata key of a graded cell's verdict in the autograded notebook.
META = "mbrl_verdict"
RESOURCE = "mbrl_verdicts"


def graded_test_cell(cell) -> bool:
    """A code cell nbgrader grades by running it (a test cell, not a solution)."""
    return (cell.cell_type == "code" and utils.is_grade(cell)
            and not utils.is_solution(cell))


def split_verdict(source: str, where: str = "cell") -> tuple[str, str | None]:
    """``(source without its verdict block, the block)``; the block is None if absent.

    Raises:
        CourseError: unbalanced markers, more than one block, or code after the block.
    """
    lines = source.splitlines()
    begins = [i for i, line in enumerate(lines) if _BEGIN.match(line)]
    ends = [i for i, line in enumerate(lines) if _END.match(line)]
    if not begins and not ends:
        return source, None
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise CourseError(f"{where}: a test cell needs one BEGIN VERDICT ... END VERDICT block")
    if any(line.strip() for line in lines[ends[0] + 1:]):
        raise CourseError(f"{where}: the verdict block must end the cell")
    block = "\n".join(lines[begins[0] + 1:ends[0]])
    return "\n".join(lines[:begins[0]]).rstrip() + "\n", block


def strip_verdicts(notebook: NotebookNode, name: str = "notebook") -> dict[str, str]:
    """Remove every verdict block from ``notebook`` (in place); return them by grade id.

    Every graded test cell needs one: nothing falls back to nbgrader's rules, which would let
    the student's kernel decide the points.

    Raises:
        CourseError: a graded test cell without a verdict, or a verdict block outside a
            graded test cell.
    """
    found: dict[str, str] = {}
    for cell in notebook.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "?")
        where = f"{name}: cell {grade_id}"
        source, block = split_verdict(cell.source, where)
        if graded_test_cell(cell) and block is None:
            raise CourseError(f"{where} is graded but has no verdict block")
        if block is not None and not graded_test_cell(cell):
            raise CourseError(f"{where}: only graded test cells have a verdict")
        if block is not None:
            cell.source = source
            found[grade_id] = block
    return found


def write_verdicts(folder: Path, name: str, verdicts: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(verdicts, indent=1))
    return path


def compile_verdicts(verdicts: dict[str, str], name: str = "notebook") -> dict:
    """Run the blocks in order in one namespace; return ``{grade_id: verdict function}``.

    Raises:
        CourseError: a block fails to run or does not define ``verdict``.
    """
    namespace: dict = {"__name__": f"verdicts_{name}"}
    functions = {}
    for grade_id, block in verdicts.items():
        try:
            exec(compile(block, f"<verdict {name}:{grade_id}>", "exec"), namespace)  # noqa: S102
        except Exception as err:  # noqa: BLE001 - reported with its cell
            raise CourseError(f"{name}: the verdict of {grade_id} fails to load: "
                              f"{type(err).__name__}: {err}") from err
        function = namespace.pop("verdict", None)
        if not callable(function):
            raise CourseError(f"{name}: the verdict block of {grade_id} defines no verdict()")
        functions[grade_id] = function
    return functions


def judge(function, cell: NotebookNode, earlier: dict[str, bool]) -> tuple[bool, str]:
    """Run one verdict on the record output of ``cell``: ``(passed, message)``."""
    records = [out for out in cell.get("outputs", [])
               if out.get("output_type") in ("display_data", "execute_result")
               and MIME in out.get("data", {})]
    if len(records) != 1:
        if records:
            return False, (f"the cell produced {len(records)} record outputs where the test "
                           "sends one: something other than the test wrote grader records")
        errors = [str(out.get("ename", "")) for out in cell.get("outputs", [])
                  if out.get("output_type") == "error"]
        stopped = f" (it stopped with {errors[-1][:80]})" if errors else ""
        return False, f"the test did not finish{stopped}, so it recorded no results"
    try:
        obs = Observations(parse_records(records[0]["data"][MIME]), earlier)
    except RecordError as err:
        return False, f"the grader could not read the test's records: {err}"
    try:
        function(obs)
    except AssertionError as err:
        return False, obs.explain(str(err) or "a check failed")
    except RecordError as err:
        return False, f"the grader could not read the test's records: {err}"
    except Exception as err:  # noqa: BLE001 - odd values the verdict could not judge
        return False, obs.explain(f"the grader could not judge your results "
                                  f"({type(err).__name__}: {str(err)[:300]})")
    return True, ""


class ApplyVerdicts(Preprocessor):
    """Judge every graded test cell of an executed notebook by its verdict (see module)."""

    verdict_dir = Unicode("", help="folder of the course's verdicts/NAME.json").tag(config=True)
    enabled = Bool(True)

    def preprocess(self, nb, resources):
        name = resources.get("nbgrader", {}).get("notebook", "")
        path = Path(self.verdict_dir) / f"{name}.json"
        try:
            blocks = json.loads(path.read_text())
            functions = compile_verdicts(blocks, name)
        except (OSError, ValueError, CourseError) as err:
            blocks, functions = None, {}
            self.log.error("no verdicts for %s: %s", name, err)
        results: dict[str, bool] = {}
        for cell in nb.cells:
            if not graded_test_cell(cell):
                continue
            grade_id = cell.metadata["nbgrader"]["grade_id"]
            function = functions.get(grade_id)
            if function is None:
                passed, message = False, "the grader has no verdict for this cell"
            else:
                passed, message = judge(function, cell, dict(results))
            results[grade_id] = passed
            cell.outputs = [out for out in cell.get("outputs", [])
                            if MIME not in out.get("data", {})] + [_verdict_output(
                                passed, message)]
            cell.metadata[META] = {"passed": passed, "message": message}
        resources[RESOURCE] = results
        return nb, resources


def _verdict_output(passed: bool, message: str) -> NotebookNode:
    if passed:
        return NotebookNode(output_type="stream", name="stdout", text="[grader] passed\n")
    return NotebookNode(output_type="error", ename="VerdictFailed", evalue=message,
                        traceback=[f"[grader] failed: {message}"])


class VerdictGrades(SaveAutoGrades):
    """nbgrader's ``SaveAutoGrades`` with a graded test cell's score taken from its verdict
    (full points or none), never from the cell's outputs."""

    def _add_score(self, cell, resources):
        if not graded_test_cell(cell):
            return super()._add_score(cell, resources)
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        grade = self.gradebook.find_grade(grade_id, self.notebook_id, self.assignment_id,
                                          self.student_id)
        passed = (resources.get(RESOURCE) or {}).get(grade_id) is True
        grade.auto_score = float(cell.metadata["nbgrader"]["points"]) if passed else 0.0
        grade.needs_manual_grade = grade.manual_score is not None
        self.gradebook.db.commit()


def verdict_of(cell) -> dict | None:
    """The verdict :class:`ApplyVerdicts` noted on an autograded cell, if any."""
    found = cell.get("metadata", {}).get(META)
    return found if isinstance(found, dict) else None


def read_source(path: Path) -> tuple[NotebookNode, dict[str, str]]:
    """A source notebook without its verdicts, and the verdicts."""
    notebook = nbformat.read(path, as_version=4)
    return notebook, strip_verdicts(notebook, path.stem)
