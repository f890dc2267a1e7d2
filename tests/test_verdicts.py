"""Probes, records and verdicts (mbrl_helpers.grading.probe / verdict / verdicts)."""

from __future__ import annotations

import json
import math
import shutil

import nbformat
import numpy as np
import pytest
import torch

from mbrl_helpers.grading.course import CourseError
from mbrl_helpers.grading.probe import GRADING_VAR, MIME, NOT_GRADED_HERE, Probe, encode
from mbrl_helpers.grading.verdict import (
    Foreign,
    Observations,
    Raised,
    RecordError,
    Tensor,
    array,
    number,
    parse_records,
)
from mbrl_helpers.grading.verdicts import compile_verdicts, judge, strip_verdicts

from .conftest import ROOT


def _roundtrip(value):
    return parse_records(json.dumps({"k": encode(value)}, allow_nan=False))["k"]


def test_plain_values_round_trip():
    for value in [None, True, 3, -2**70, 0.1, "text", [1, [2.5, "x"]], (1, 2), {0: "a", "b": 1.5}]:
        assert _roundtrip(value) == value
    assert type(_roundtrip((1, 2))) is tuple
    assert math.isnan(_roundtrip(float("nan"))) and _roundtrip(-math.inf) == -math.inf


def test_arrays_keep_dtype_shape_and_bits():
    for value in [np.arange(6, dtype=np.float32).reshape(2, 3), np.array([np.nan, 1e-300]),
                  np.array([True, False]), np.zeros((0, 4), dtype=np.int64), np.array(2.5)]:
        back = _roundtrip(value)
        assert back.dtype == value.dtype and back.shape == value.shape
        assert np.array_equal(back, value, equal_nan=True)
    scalar = _roundtrip(np.float32(0.25))
    assert isinstance(scalar, np.float32) and scalar == 0.25
    tensor = _roundtrip(torch.ones(2, 2, dtype=torch.float64, requires_grad=True))
    assert isinstance(tensor, Tensor) and tensor.torch_dtype == "torch.float64"
    assert tensor.requires_grad and tensor.shape == (2, 2)
    assert _roundtrip(torch.tensor(1.5)).shape == ()  # a 0-d tensor stays 0-d
    for value in [np.array("text"), np.array([["a", None]], dtype=object)]:  # kept item by item
        back = _roundtrip(value)
        assert back.shape == value.shape and back.tolist() == value.tolist()


def test_rigged_objects_are_recorded_by_what_they_are():
    class Liar(float):
        def __eq__(self, other):
            return True

        def __float__(self):
            return 1.75

        __hash__ = float.__hash__

    back = _roundtrip(Liar(0.5))
    assert isinstance(back, Foreign) and back.value == 0.5 and back.type_name.endswith("Liar")
    with pytest.raises(AssertionError, match="Liar"):
        number(back, "G")

    class Array:
        def __array__(self, dtype=None, copy=None):
            return np.array(1.75)

    assert isinstance(_roundtrip(Array()), Foreign)
    with pytest.raises(AssertionError, match="must be numeric"):
        array(_roundtrip(Array()), "G")


def test_exceptions_are_recorded_by_class_names():
    probe = Probe()
    probe.call("bad", lambda: math.sqrt(-1))
    raised = parse_records(json.dumps(probe.records))["bad"]
    assert isinstance(raised, Raised) and raised.is_a("ValueError") and raised.is_a("Exception")
    obs = Observations({"bad": raised})
    with pytest.raises(AssertionError, match="raised ValueError"):
        obs.returned("bad", "sqrt(-1)")
    with pytest.raises(KeyError):
        probe.record("bad", 1)


@pytest.mark.parametrize("text", [
    '{"a": 1, "a": 2}',  # a repeated key
    '{"a": NaN}',
    "[" * 5000 + "]" * 5000,
    '{"a": {"$nd": {"dtype": "<f8", "shape": [3], "b64": "AAAA"}}}',  # bytes do not match
    '{"a": {"$nd": {"dtype": "|O", "shape": [1], "b64": ""}}}',
    '{"a": {"$nd": {"dtype": "<f8", "shape": [-1], "b64": ""}}}',
    '{"a": {"$evil": 1}}',
    '"just a string"',
    "x" * 9_000_000,
])
def test_malformed_records_are_refused(text):
    with pytest.raises(RecordError):
        parse_records(text)


def _cell(*texts, error=None):
    outputs = [nbformat.v4.new_output("display_data", data={MIME: t}) for t in texts]
    if error:
        outputs.append(nbformat.v4.new_output("error", ename=error, evalue="", traceback=[]))
    return nbformat.v4.new_code_cell("", outputs=outputs)


def _verdict(obs):
    assert obs.returned("g", "f()") == 2, f"f() returned {obs['g']!r}, expected 2"


def test_judge_uses_exactly_one_record_output():
    good = json.dumps({"g": 2})
    assert judge(_verdict, _cell(good), {}) == (True, "")
    passed, message = judge(_verdict, _cell(good, good), {})
    assert not passed and "2 record outputs" in message
    passed, message = judge(_verdict, _cell(error="NameError"), {})
    assert not passed and "NameError" in message and "recorded no results" in message
    passed, message = judge(_verdict, _cell(json.dumps({"g": 3})), {})
    assert not passed and message.startswith("f() returned 3, expected 2")


def test_a_failure_names_the_earlier_exercise_it_builds_on():
    def verdict(obs):
        obs.builds_on("your `select_elites` (Exercise 2.2)", "test_select_elites_hidden")
        raise AssertionError("wrong mean")

    _, message = judge(verdict, _cell("{}"), {"test_select_elites_hidden": False})
    assert message.startswith("wrong mean") and "Exercise 2.2" in message
    _, message = judge(verdict, _cell("{}"), {"test_select_elites_hidden": True})
    assert message.startswith("wrong mean") and "Exercise" not in message


def test_a_verdict_crash_on_odd_values_fails_the_cell_with_a_reason():
    def verdict(obs):
        return obs["g"] + 1

    passed, message = judge(verdict, _cell(json.dumps({"g": "text"})), {})
    assert not passed and "could not judge" in message and "TypeError" in message


def _graded(source, grade_id="t1"):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": grade_id,
                                 "points": 1, "locked": True, "schema_version": 3}
    return cell


def test_verdicts_are_stripped_and_required():
    nb = nbformat.v4.new_notebook(cells=[
        _graded("x = 1\n### BEGIN VERDICT\ndef verdict(obs):\n    pass\n### END VERDICT")])
    verdicts = strip_verdicts(nb, "demo")
    assert nb.cells[0].source == "x = 1\n" and "def verdict" in verdicts["t1"]
    assert set(compile_verdicts(verdicts, "demo")) == {"t1"}
    with pytest.raises(CourseError, match="no verdict block"):
        strip_verdicts(nbformat.v4.new_notebook(cells=[
            _graded("### BEGIN VERDICT\ndef verdict(obs): pass\n### END VERDICT"),
            _graded("x = 1", "t2")]), "demo")
    with pytest.raises(CourseError, match="no verdict block"):  # no fallback to nbgrader's rules
        strip_verdicts(nbformat.v4.new_notebook(cells=[_graded("x = 1")]), "demo")
    with pytest.raises(CourseError, match="must end the cell"):
        strip_verdicts(nbformat.v4.new_notebook(cells=[
            _graded("### BEGIN VERDICT\ndef verdict(obs): pass\n### END VERDICT\nx = 1")]))
    with pytest.raises(CourseError, match="only graded test cells"):
        strip_verdicts(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
            "### BEGIN VERDICT\ndef verdict(obs): pass\n### END VERDICT")]))
    with pytest.raises(CourseError, match="defines no verdict"):
        compile_verdicts({"t1": "x = 1"})


def test_a_probe_sends_only_where_a_verdict_will_judge(monkeypatch):
    sent = []
    monkeypatch.setattr("IPython.display.display", lambda data, raw: sent.append(data))
    monkeypatch.delenv(GRADING_VAR, raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    Probe().send()  # a student working: nothing to send
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    Probe().send()  # validate runs the visible checks only
    assert sent == []
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(RuntimeError, match="mbrl-course autograde"):
        Probe().send()  # plain nbgrader autograde: no verdict, no points
    monkeypatch.setenv(GRADING_VAR, "1")
    probe = Probe()
    probe.record("x", np.float64(2.0))
    probe.send()
    assert len(sent) == 1 and parse_records(sent[0][MIME]) == {"x": 2.0}


def test_plain_nbgrader_autograde_gives_no_points(tmp_path):
    """A TA who runs nbgrader's own autograde gets zero and one line saying why."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    from mbrl_helpers.grading.nbgrader_course import COURSE_ID, prepare_course_dir

    name = "00_course_tour"
    prepare_course_dir(tmp_path, ROOT, [name])
    (tmp_path / "submitted" / "s1" / name).mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / f"{name}.ipynb", tmp_path / "submitted" / "s1" / name)
    config = Config()
    config.CourseDirectory.root = str(tmp_path)
    config.CourseDirectory.course_id = COURSE_ID
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    assert api.autograde(name, "s1", create=True)["success"]
    with api.gradebook as gb:
        assert gb.find_submission_notebook(name, name, "s1").score == 0
    graded = nbformat.read(tmp_path / "autograded" / "s1" / name / f"{name}.ipynb", 4)
    errors = [o for c in graded.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors and all(NOT_GRADED_HERE in o.evalue for o in errors)


def test_every_notebook_has_a_verdict_per_graded_cell():
    from mbrl_helpers.grading.course import notebook_names
    from mbrl_helpers.grading.verdicts import graded_test_cell

    for name in notebook_names(ROOT):
        nb = nbformat.read(ROOT / "solutions" / f"{name}.ipynb", as_version=4)
        cells = {c.metadata["nbgrader"]["grade_id"] for c in nb.cells if graded_test_cell(c)}
        verdicts = strip_verdicts(nb, name)
        assert set(verdicts) == cells, f"{name}: cells without a verdict"
        compile_verdicts(verdicts, name)


def test_students_validate_runs_the_visible_checks(tmp_path):
    """nbgrader's Validate (button or command) still works on the release: probes send
    nothing there, and the visible asserts pass for a solved notebook, fail for a blank one."""
    from nbgrader.validator import Validator

    from mbrl_helpers.grading.mutants import build

    for who, edits in (("solved", {}), ("blank", None)):
        path = tmp_path / f"{who}.ipynb"
        nbformat.write(build(ROOT, "00_course_tour", edits), path)
        failed = Validator().validate(str(path)).get("failed", [])
        assert (len(failed) == 0) if edits is not None else (len(failed) == 2), (who, failed)
