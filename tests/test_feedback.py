"""Feedback HTML: hidden tests and their tracebacks are removed, the leak search works, and
a hostile notebook's scripts, handlers, ``javascript:`` URLs and frames never reach the page."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import nbformat
import pytest
from nbconvert import HTMLExporter

from mbrl_helpers.grading.feedback import (
    CONTENT_SECURITY_POLICY,
    HELPERS_DIR,
    MATHML_TAGS,
    FeedbackExporter,
    HideHiddenTests,
    MathToMathML,
    failure_line,
    feedback_preprocessors,
    latex_to_mathml,
    sanitize_feedback_html,
    visible_text,
)

HIDDEN_LINE = "assert secret_function(3) == 42, 'hidden expectation'"
EXPORTER = "mbrl_helpers.grading.feedback.FeedbackExporter"
GRADE = {"grade": True, "points": 1, "locked": True, "solution": False, "schema_version": 3}


def _graded_notebook():
    cell = nbformat.v4.new_code_cell(
        "assert f(1) == 1, 'visible'\n### BEGIN HIDDEN TESTS\n" + HIDDEN_LINE +
        "\n### END HIDDEN TESTS", execution_count=2)
    cell.metadata["nbgrader"] = {**GRADE, "grade_id": "t"}
    cell.outputs = [nbformat.v4.new_output(
        "error", ename="AssertionError", evalue="hidden expectation",
        traceback=["Traceback", "\x1b[36mCell\x1b[39m \x1b[32mIn[2]\x1b[39m, line 3\n"
                   f"----> 3 {HIDDEN_LINE}", "AssertionError: hidden expectation"])]
    student = nbformat.v4.new_code_cell("def f(x):\n    return x", execution_count=1)
    return nbformat.v4.new_notebook(cells=[student, cell])


def test_plain_export_leaks_and_the_search_finds_it():
    html, _ = HTMLExporter().from_notebook_node(_graded_notebook())
    assert HIDDEN_LINE in visible_text(html)  # the search can fail: nbgrader's default leaks


def test_hide_hidden_tests_removes_source_and_traceback():
    nb, _ = HideHiddenTests().preprocess(_graded_notebook(), {})
    html, _ = HTMLExporter().from_notebook_node(nb)
    text = visible_text(html)
    assert HIDDEN_LINE not in text and "secret_function" not in text
    assert "assert f(1) == 1, 'visible'" in text  # visible part kept
    assert "AssertionError: hidden expectation" in text  # the message stays
    assert "def f(x)" in text  # student code untouched


def _error(ename, evalue, *frames):
    """An error output whose traceback has IPython 9's frame headers (with colours)."""
    headers = [f"\x1b[36mCell\x1b[39m\x1b[36m \x1b[39m\x1b[32mIn[{f}]\x1b[39m, line 1\n"
               if isinstance(f, int) else f"\x1b[36mFile \x1b[39m\x1b[32m{f}:3\x1b[39m, in g\n"
               for f in frames]
    return {"output_type": "error", "ename": ename, "evalue": evalue,
            "traceback": ["---", f"{ename}  Traceback", *headers, f"{ename}: {evalue}"]}


@pytest.mark.parametrize(("error", "expected"), [
    (_error("AssertionError", "x is wrong", 7), "failed: AssertionError: x is wrong"),
    (_error("AssertionError", "close", 7, HELPERS_DIR + "checks.py"),
     "failed: AssertionError: close"),  # a check helper the test called
    (_error("AssertionError", "STOLEN", 7, 3), "failed: AssertionError (messages"),
    (_error("AssertionError", "STOLEN", 7, 3, HELPERS_DIR + "checks.py"),
     "failed: AssertionError (messages"),  # a helper the student's code called
    (_error("AssertionError", "STOLEN", 7, "/tmp/mbrl_helpers/checks.py"), "failed: Asser"),
    (_error("ValueError", "STOLEN", 7), "failed: ValueError (messages are shown only"),
    (_error("<b>x</b> STOLEN", "STOLEN", 7), "failed: an exception (messages"),
    ({"output_type": "error", "ename": "CellTimeoutError", "evalue": "STOLEN",
      "traceback": ["CellTimeoutError: STOLEN"]}, "failed: the cell ran past its time limit"),
    ({"output_type": "error", "ename": "NotRun", "evalue": "STOLEN", "traceback": []},
     "failed: not run: the notebook used up its time budget or its kernel restarts"),
])
def test_failure_line_shows_only_the_tests_own_assertion_messages(error, expected):
    line = failure_line(error, 7)
    assert line.startswith(expected) and "STOLEN" not in line


def test_failure_line_truncates_long_messages():
    assert len(failure_line(_error("AssertionError", "x" * 10_000, 7), 7)) < 600


def test_graded_cells_keep_one_line_and_other_cells_lose_test_frames():
    nb = _graded_notebook()
    nb.cells[1].outputs.insert(0, nbformat.v4.new_output("stream", name="stdout", text="dbg"))
    passing = nbformat.v4.new_code_cell("assert True", execution_count=3)
    passing.metadata["nbgrader"] = {**GRADE, "grade_id": "p"}
    passing.outputs = [nbformat.v4.new_output("display_data", data={"text/plain": "rich"})]
    later = nbformat.v4.new_code_cell("secret_function(1)", execution_count=4)
    later.outputs = [nbformat.from_dict(_error("NameError", "x", 4, 2))]
    nb.cells += [passing, later]
    nb, _ = HideHiddenTests().preprocess(nb, {})
    assert nb.cells[1].outputs[0].traceback == ["failed: AssertionError: hidden expectation"]
    assert [out.get("text") for out in nb.cells[2].outputs] == ["passed\n"]
    frames = nb.cells[3].outputs[0].traceback
    assert any("In[4]" in entry for entry in frames) and not any("In[2]" in e for e in frames)
    assert "(a frame inside a test cell is not shown)" in frames


# --- a hostile notebook, executed for real and rendered with nbgrader's feedback template

MARKDOWN = """# Exercise 1 (2 points)
Dynamics $s_{t+1} = f(s_t, a_t)$. <script>alert('md')</script>
<img src="x" onerror="alert('md-img')"> [a link](javascript:alert('md-link'))
<iframe src="https://evil.example/"></iframe><object data="https://evil.example/o"></object>
<embed src="https://evil.example/e"><form action="https://evil.example/f"><input name="q">
</form><a href="https://docs.python.org/" onclick="alert('md-click')">docs link</a>
<img src="https://evil.example/pixel.png"><style>body.student-css { display: none }</style>
<svg><script>alert('md-svg')</script></svg><math><mi xlink:href="javascript:alert(1)">m</mi></math>
<math onclick="alert('math')" href="https://evil.example/m">
<mi src="https://evil.example/i">q</mi></math>
"""
SVG = ("<svg xmlns='http://www.w3.org/2000/svg' xmlns:xlink='http://www.w3.org/1999/xlink' "
       "width='20' height='20'><script>alert('svg')</script><circle r='5' cx='9' cy='9' "
       "onload=\"alert('svg-onload')\"/><a href=\"javascript:alert('svg-a')\"><text>t</text>"
       "</a><use xlink:href=\"https://evil.example/a.svg#x\"/><foreignObject><iframe "
       "src=\"javascript:alert('fo')\"></iframe></foreignObject></svg>")
STUDENT = f'''# a student's comment: <script>alert('src')</script>
from IPython.display import HTML, SVG, Javascript, display
def add(a, b):
    return a + b
def boom():
    raise RuntimeError("<script>alert('evalue')</script> " + "STO" + "LEN-VALUE")
def fake_assert():
    raise AssertionError("STO" + "LEN-ASSERT")
display(HTML("<b onmouseover=\\"alert('html-b')\\">bold text</b><script>alert('html')</script>"
             "<iframe srcdoc=\\"<script>alert(1)</script>\\"></iframe>"))
display(SVG("""{SVG}"""))
display(Javascript("alert('js')"))
print("<script>alert('stream')</script> printed text")
'''
TESTS = {
    "t_pass": "print('STO' + 'LEN-PRINT')\nassert add(1, 2) == 3, 'visible'\n"
              "### BEGIN HIDDEN TESTS\nassert add(2, 2) == 4, 'HIDDEN-PASS-LINE'\n"
              "### END HIDDEN TESTS",
    "t_hidden": "assert add(0, 0) == 0\n### BEGIN HIDDEN TESTS\n"
                "assert add(1, 1) == 3, 'add(1, 1) should be 3'  # HIDDEN-FAIL-LINE\n"
                "### END HIDDEN TESTS",
    "t_student_error": "boom()",
    "t_student_assert": "fake_assert()",
    "t_helper": "from mbrl_helpers.checks import assert_close\n"
                "assert_close(add(1, 1), 3.0, 'the sum add(1, 1)')",
    "t_display": "from IPython.display import HTML, display\n"
                 "display(HTML('<b>STO' + 'LEN-DISPLAY</b>'))",
}


def _hostile_notebook():
    cells = [nbformat.v4.new_markdown_cell(MARKDOWN), nbformat.v4.new_code_cell(STUDENT),
             nbformat.v4.new_code_cell("raise ValueError(\"<img src=x onerror=alert('err')>\")")]
    for grade_id, source in TESTS.items():
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["nbgrader"] = {**GRADE, "grade_id": grade_id}
        cells.append(cell)
    return nbformat.v4.new_notebook(cells=cells)


def _feedback_exporter(tmp_path, exporter_class: str | None = None):
    """The exporter nbgrader's GenerateFeedback builds (``exporter_class`` set as a TA's
    nbgrader_config.py would), with our preprocessors less GetGrades, which needs a
    gradebook (:func:`_grades` stands in)."""
    from nbgrader.converters import GenerateFeedback
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    config = Config()
    if exporter_class:
        config.GenerateFeedback.exporter_class = exporter_class
    converter = GenerateFeedback(coursedir=CourseDirectory(root=str(tmp_path)), config=config)
    exporter = converter.exporter_class(parent=converter, config=converter.config)
    for preprocessor in feedback_preprocessors()[1:]:
        exporter.register_preprocessor(preprocessor, enabled=True)
    return exporter


def _grades(nb) -> dict:
    """What nbgrader's GetGrades would record: scores in the metadata, totals in resources."""
    total = 0.0
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            meta["score"] = 0.0 if any(o.output_type == "error" for o in cell.outputs) else 1.0
            total += meta["score"]
    points = float(len(TESTS))
    return {"nbgrader": {"notebook": "hostile", "score": total, "max_score": points,
                         "late_penalty": 0}}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """The executed hostile notebook and its feedback page: nbgrader's exporter followed by
    :func:`sanitize_feedback_html` (the grader's path), and :class:`FeedbackExporter`'s."""
    from nbclient import NotebookClient

    tmp = tmp_path_factory.mktemp("feedback")
    nb = _hostile_notebook()
    NotebookClient(nb, allow_errors=True, timeout=60, kernel_name="python3").execute()
    pages = {}
    for name, exporter_class in [("grader", None), ("exporter", EXPORTER)]:
        copy = nbformat.from_dict(nb)
        exporter = _feedback_exporter(tmp, exporter_class)
        assert isinstance(exporter, FeedbackExporter) == (name == "exporter")
        page, _ = exporter.from_notebook_node(copy, resources=_grades(copy))
        pages[name] = sanitize_feedback_html(page) if name == "grader" else page
    return {"nb": nb, **pages}


class _Elements(HTMLParser):
    """Every start tag of a page with its attributes, and the text inside ``<style>``."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.styles: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    def handle_data(self, data):
        if self.tags and self.tags[-1][0] == "style":
            self.styles.append(data)


def _assert_inert(page: str) -> None:
    """No element or attribute of ``page`` can run code, frame or submit anything."""
    forbidden = {"script", "iframe", "object", "embed", "form", "input", "frame", "base",
                 "link", "svg", "button", "textarea", "applet", "portal", "annotation-xml"}
    for tag, attrs in _Elements(page).tags:
        assert tag not in forbidden, (tag, attrs)
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, value)
            assert tag not in MATHML_TAGS or "href" not in name and name != "src", (tag, name)
            assert "javascript:" not in re.sub(r"\s", "", value).lower(), (tag, name)
            assert "alert(" not in value, (tag, name, value)


def test_the_hostile_notebook_really_planted_everything(hostile):
    html, _ = HTMLExporter().from_notebook_node(hostile["nb"])
    for planted in ("<script>alert('md')</script>", "onmouseover=", "STOLEN-VALUE",
                    "STOLEN-PRINT", "HIDDEN-FAIL-LINE", "STOLEN-ASSERT", "STOLEN-DISPLAY",
                    "student-css", "alert('js')", "alert('math')"):
        assert planted in html, planted  # so the other tests below test something


@pytest.mark.parametrize("name", ["grader", "exporter"])
def test_feedback_runs_no_script_and_keeps_the_grade_and_content(hostile, name):
    page = hostile[name]
    _assert_inert(page)
    text = visible_text(page)
    assert "(Score: 2.0 / 6.0)" in text  # t_pass and t_display pass
    for kept in ("Exercise 1 (2 points)", "docs link", "bold text",
                 "printed text", "def add(a, b):", "assert add(1, 2) == 3, 'visible'",
                 "passed", "failed: AssertionError: add(1, 1) should be 3",
                 "failed: RuntimeError (messages", "failed: AssertionError (messages",
                 "failed: AssertionError: the sum add(1, 1) is wrong"):
        assert kept in text, kept
    for gone in ("STOLEN", "HIDDEN-PASS-LINE", "HIDDEN-FAIL-LINE", "student-css"):
        assert gone not in text, gone
    formulas = _Formulas(page).formulas
    assert ["s", "t", "+", "1", "=", "f", "(", "s", "t", ",", "a", "t", ")"] in [
        [text for _, text in formula["tokens"]] for formula in formulas]
    assert "$s_{t+1}" not in text


@pytest.mark.parametrize("name", ["grader", "exporter"])
def test_feedback_has_a_strict_csp_the_template_css_and_no_network_url(hostile, name):
    elements = _Elements(hostile[name])
    metas = [attrs for tag, attrs in elements.tags if tag == "meta"
             and attrs.get("http-equiv", "").lower() == "content-security-policy"]
    assert [meta["content"] for meta in metas] == [CONTENT_SECURITY_POLICY]
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY
    assert "script-src" not in CONTENT_SECURITY_POLICY  # no script at all, MathJax included
    assert any("div.nbgrader_cell" in css for css in elements.styles)  # the template's CSS
    assert not any("student-css" in css for css in elements.styles)  # not the student's
    for tag, attrs in elements.tags:
        if tag in ("script", "link", "img"):
            for url in (attrs.get("src", ""), attrs.get("href", "")):
                assert not re.match(r"\s*(https?:)?//", url, re.I), (tag, url)


def test_svg_outputs_are_cleaned_inside_their_data_uri(hostile):
    images = [attrs["src"] for tag, attrs in _Elements(hostile["grader"]).tags
              if tag == "img" and attrs.get("src", "").startswith("data:image/svg+xml")]
    assert len(images) == 1
    svg = base64.b64decode(images[0].split(",", 1)[1]).decode()
    assert "<circle" in svg and "<text>t</text>" in svg  # the drawing stays
    for gone in ("script", "onload", "javascript", "foreignObject", "iframe", "evil"):
        assert gone not in svg, gone


def test_sanitizing_twice_changes_nothing(hostile):
    once = hostile["grader"]
    assert sanitize_feedback_html(once) == once


# --- formulas: markdown LaTeX becomes MathML, which the browser typesets with no script

# From solutions/02_shooting_and_cem.ipynb (the recap, and the CEM refit of exercise 2.3).
FORMULAS = r"""With the notation of notebook 00: the dynamics $s_{t+1} = f(s_t, a_t)$ and the reward
$r(s_t, a_t)$ are **known**. From the current state, an open-loop plan $a_{1:H}$ has the value

$$J(a_{1:H}) = \sum_{t=1}^{H} \gamma^{t-1}\, r(s_t, a_t), \qquad s_{t+1} = f(s_t, a_t),$$

and planning is the optimization problem $a^\star_{1:H} = \arg\max_{a_{1:H}} J(a_{1:H})$.

\begin{aligned} \mu' &= \alpha\,\mu + (1-\alpha)\,\operatorname{mean}(\text{elites}) \\
\sigma' &= \max\big(\alpha\,\sigma,\; \sigma_{\min}\big) \end{aligned}
"""
TOKENS = {"mi", "mo", "mn", "ms", "mtext"}


class _Formulas(HTMLParser):
    """The ``<math>`` elements of a page (attributes, tags, token elements' ``(tag, text)``,
    annotation), and the page's text outside them."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.formulas: list[dict] = []
        self.outside = ""
        self._open: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag == "math":
            self.formulas.append({"attrs": dict(attrs), "tags": [], "tokens": [],
                                  "annotation": ""})
        elif "math" in self._open:
            self.formulas[-1]["tags"].append(tag)
        self._open.append(tag)

    def handle_endtag(self, tag):
        while tag in self._open and self._open.pop() != tag:
            pass

    def handle_data(self, data):
        if "math" not in self._open:
            self.outside += data
        elif self._open[-1] == "annotation":
            self.formulas[-1]["annotation"] += data
        elif self._open[-1] in TOKENS:
            self.formulas[-1]["tokens"].append((self._open[-1], data))


def _math_page(nb) -> str:
    """The feedback page of ``nb``: :class:`FeedbackExporter` with :class:`MathToMathML`."""
    exporter = FeedbackExporter()
    exporter.register_preprocessor(MathToMathML, enabled=True)
    return exporter.from_notebook_node(nb)[0]


def _markdown_page(markdown: str) -> str:
    return _math_page(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(markdown)]))


def test_markdown_formulas_become_mathml_without_their_delimiters():
    reader = _Formulas(_markdown_page(FORMULAS))
    formulas = reader.formulas
    assert [f["attrs"] for f in formulas] == [{"display": kind} for kind in (
        "inline", "inline", "inline", "block", "inline", "block")]
    assert [text for _, text in formulas[0]["tokens"]] == [
        "s", "t", "+", "1", "=", "f", "(", "s", "t", ",", "a", "t", ")"]
    assert formulas[0]["annotation"] == "s_{t+1} = f(s_t, a_t)"
    assert {("mi", "J"), ("mo", "\u2211"), ("mi", "\u03b3"), ("mo", "=")} <= set(
        formulas[3]["tokens"])
    assert {("mo", "arg"), ("mo", "max"), ("mo", "\u22c6")} <= set(formulas[4]["tokens"])
    assert "mtable" in formulas[5]["tags"] and ("mo", "mean") in formulas[5]["tokens"]
    assert ("mtext", "elites") in formulas[5]["tokens"]
    for raw in ("$", "\\begin", "\\sum", "s_{t+1}"):
        assert raw not in reader.outside, raw
    assert "open-loop plan" in reader.outside and "known" in reader.outside


def test_code_escaped_dollars_and_currency_stay_text():
    page = _markdown_page("Inline code `$x_t$` stays. Prices: \\$5, and between $5 and $10.\n\n"
                          "```python\nlabel = '$J(a)$'\n```\n")
    reader = _Formulas(page)
    assert reader.formulas == []
    assert "<code>$x_t$</code>" in page
    for kept in ("Prices: $5,", "between $5 and $10.", "'$J(a)$'"):
        assert kept in reader.outside, kept


@pytest.mark.parametrize("latex", [r"x^", r"\left( x", r"\unknowncommand{x}", r"a & b"])
def test_a_formula_that_does_not_convert_stays_text(latex):
    assert latex_to_mathml(latex, display=False) is None
    reader = _Formulas(_markdown_page(f"Bad ${latex}$, good $y$, and $$z = {latex}$$."))
    assert [[text for _, text in f["tokens"]] for f in reader.formulas] == [["y"]]
    assert f"Bad ${latex}$, good" in reader.outside
    assert f"$$z = {latex}$$." in reader.outside


def test_math_planted_in_markdown_keeps_no_handler_or_url():
    page = _markdown_page(
        '<math display="block" onclick="alert(1)" href="https://evil.example/h" '
        'xlink:href="javascript:alert(2)"><mi onmouseover="alert(3)" href="javascript:alert(4)" '
        'src="https://evil.example/s">q</mi><mtext><img src="https://evil.example/p" '
        'onerror="alert(5)"></mtext></math> and $\\href{javascript:alert(6)}{x}$')
    _assert_inert(page)
    formulas = _Formulas(page).formulas
    assert [f["attrs"] for f in formulas] == [{"display": "block"}, {"display": "inline"}]
    assert ("mi", "q") in formulas[0]["tokens"] and ("mi", "x") in formulas[1]["tokens"]
    assert "evil.example" not in page


def test_a_solution_notebooks_markdown_is_typeset(root):
    nb = nbformat.read(root / "solutions" / "02_shooting_and_cem.ipynb", as_version=4)
    nb.cells = [cell for cell in nb.cells if cell.cell_type == "markdown"]
    page = _math_page(nb)
    _assert_inert(page)
    reader = _Formulas(page)
    assert len(reader.formulas) >= 10
    assert all(formula["tokens"] for formula in reader.formulas)
    assert "$$" not in reader.outside and "\\arg" not in reader.outside
