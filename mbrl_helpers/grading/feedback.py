r"""Feedback HTML a student may open safely: no hidden tests, no scripts, no network.

nbgrader's ``generate_feedback`` renders the autograded notebook, which holds the hidden
tests (issue #917) and whatever the student's code printed or displayed. Two layers make it
safe to hand out:

1. **Preprocessors** (:func:`feedback_preprocessors`, run by nbgrader before templating).
   :class:`HideHiddenTests` reduces every graded test cell to its visible source and one
   line, ``passed`` or ``failed: ...``: the message is shown only for an ``AssertionError``
   raised by the test cell itself or by :mod:`mbrl_helpers.checks` called from it (an
   instructor's message); any other exception shows its name only, because its message is
   the student's text and could quote hidden tests. Streams, rich outputs and tracebacks of
   graded cells are dropped; other cells keep their outputs, minus traceback frames inside
   test cells. :class:`SanitizeOutputs` cleans ``text/html`` and ``image/svg+xml`` outputs
   with nh3 and drops JavaScript and widget outputs (nbconvert embeds SVG as a base64 image,
   where the final pass cannot see into it).
2. **The final pass** (:func:`sanitize_feedback_html`, also applied by
   :class:`FeedbackExporter`). It keeps only the template's ``<title>`` and ``<style>`` sheets
   from the head, cleans the whole body with an nh3 allowlist (no script, iframe, object,
   embed, form, event handler or ``javascript:`` URL; images only as ``data:`` URIs), and
   writes a new head with a Content-Security-Policy that allows no script and no network
   access at all. This layer covers markdown cells, error values, and every template field
   the student influences, so it is the one that must always run.

Formulas: the page runs no script, so there is no MathJax; formulas are typeset as MathML,
which current browsers (Chromium 109+, Firefox, Safari) render natively, offline, with no
script and nothing to download. :class:`MathToMathML` converts the LaTeX of markdown cells
with the pure-Python ``latex2mathml`` before nbconvert renders the markdown: ``$...$`` and
``\(...\)`` inline, ``$$...$$``, ``\[...\]`` and ``\begin{env}...\end{env}`` as
display formulas. Escaped dollars (``\$``), code spans, fenced code and currency stay
text: as in Pandoc, an opening ``$`` must not be followed by a space, nor a closing one
preceded by a space or followed by a digit (``$5 and $10`` is not a formula). Converting
first is what lets the MathML through: nbconvert's markdown renderer protects the math it
finds and writes it back as escaped LaTeX (for MathJax), so in the final HTML a formula can
no longer be told apart from a student's printed ``$``; raw inline HTML, instead, passes
through mistune untouched. So that mistune finds neither math nor markdown in the MathML,
every character of its text other than ASCII letters, digits and spaces is written as a
character reference. Each formula keeps its LaTeX in an ``<annotation>`` (not displayed).
The final pass lets MathML Core elements and presentation attributes through (no event
handler, ``href``, ``src`` or other URL). Limitations: a formula that latex2mathml rejects
or that uses a command it does not know (``\label``, ``alignat``, a macro defined in another
formula: each is converted alone) stays as its LaTeX source, escaped; ``align`` is shown
unnumbered, ``gather`` and ``multline`` as centred lines; ``\[...\]`` takes one backslash,
as in Jupyter (nbconvert's MathJax path wanted two); MathML fonts and spacing are plainer
than MathJax's; a browser without MathML Core (Chromium before 109) shows the symbols in a
row.
"""

from __future__ import annotations

import html as html_lib
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import nh3
from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests

#: The policy of every feedback page: inline CSS and ``data:`` images, nothing else.
CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                           "font-src data:; base-uri 'none'; form-action 'none'")
#: Longest instructor message shown for a failed test, in characters.
MAX_MESSAGE_CHARS = 500
#: Errors the grader itself writes into a cell (executor.py), with a fixed explanation.
GRADER_ERRORS = {
    "CellTimeoutError": "the cell ran past its time limit",
    "DeadKernelError": "the kernel died (a crash, or the memory or CPU-time limit)",
    "NotRun": "not run: the notebook used up its time budget or its kernel restarts",
}
#: The folder of :mod:`mbrl_helpers` (home of ``checks``), as kernel tracebacks name it.
HELPERS_DIR = str(Path(__file__).resolve().parents[1]) + os.sep
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_FRAME = re.compile(r"(?:Cell In|Input In) ?\[(?P<cell>\d+)\]|File (?P<file>.+?):\d+(?:,|$)")
_EXCEPTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,59}")
_JS_MIMETYPES = ("application/javascript", "application/vnd.jupyter.widget-view+json")
#: MathML Core elements a page may hold: latex2mathml's output, and a student's own.
MATHML_TAGS = frozenset({
    "math", "semantics", "annotation", "mrow", "mi", "mo", "mn", "ms", "mtext", "mspace",
    "msup", "msub", "msubsup", "mfrac", "msqrt", "mroot", "mover", "munder", "munderover",
    "mtable", "mtr", "mtd", "mstyle", "mpadded", "mphantom", "menclose", "merror"})
#: Their presentation attributes; none is an event handler or holds a URL.
MATHML_ATTRIBUTES = frozenset({
    "display", "xmlns", "encoding", "dir", "mathvariant", "mathsize", "mathcolor",
    "mathbackground", "stretchy", "fence", "separator", "form", "largeop", "symmetric",
    "minsize", "maxsize", "lspace", "rspace", "accent", "accentunder", "movablelimits",
    "columnalign", "rowalign", "columnlines", "rowlines", "columnspacing", "rowspacing",
    "columnspan", "rowspan", "frame", "displaystyle", "scriptlevel", "linethickness", "width",
    "height", "depth", "voffset", "notation", "linebreak"})
_JS_NOTE = ("<p><em>(The interactive part of this output needs JavaScript, which feedback "
            "pages do not run.)</em></p>")


def _keep_url(tag: str, attribute: str, value: str) -> str | None:
    """nh3 attribute filter: images only from ``data:image/...``; ``href`` other than a
    link's only to ``#fragments`` (nh3's own scheme allowlist drops ``javascript:``)."""
    url = value.strip()
    if attribute == "src":
        return value if url.lower().startswith("data:image/") else None
    if attribute == "href" and (tag != "a" or url.lower().startswith("data:")):
        return value if url.startswith("#") else None
    return value


_BODY = nh3.Cleaner(
    tags=(nh3.ALLOWED_TAGS - {"area", "map"}) | {"main", "section"} | MATHML_TAGS,
    attributes={**nh3.ALLOWED_ATTRIBUTES, "*": {"class", "id", "title", "lang", "style"},
                "a": {"href", "name"}, **dict.fromkeys(MATHML_TAGS, MATHML_ATTRIBUTES)},
    attribute_filter=_keep_url,
    url_schemes={"http", "https", "mailto", "data"},
    filter_style_properties={"color", "background-color", "font-weight", "font-style",
                             "text-decoration", "text-align"},
)
_SVG_PAINT = {"fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-linecap",
              "stroke-linejoin", "stroke-dasharray", "stroke-dashoffset", "stroke-opacity",
              "stroke-miterlimit", "opacity", "clip-path", "clip-rule", "font-family",
              "font-size", "font-weight", "font-style", "text-anchor", "dominant-baseline"}
_SVG = nh3.Cleaner(
    tags={"svg", "g", "path", "rect", "circle", "ellipse", "line", "polyline", "polygon",
          "text", "tspan", "defs", "clipPath", "use", "title", "desc", "linearGradient",
          "radialGradient", "stop", "symbol", "marker", "pattern", "mask"},
    attributes={"*": _SVG_PAINT | {
        "id", "class", "style", "transform", "d", "x", "y", "x1", "y1", "x2", "y2", "cx",
        "cy", "r", "rx", "ry", "dx", "dy", "width", "height", "points", "viewBox",
        "preserveAspectRatio", "version", "offset", "stop-color", "stop-opacity", "mask",
        "clipPathUnits", "gradientUnits", "gradientTransform", "patternUnits",
        "patternTransform", "markerWidth", "markerHeight", "refX", "refY", "orient"},
        "svg": {"xmlns", "xmlns:xlink"}, "use": {"href", "xlink:href"}},
    attribute_filter=_keep_url,
    url_schemes=set(),
    filter_style_properties=_SVG_PAINT,
)


def _frames(traceback: list) -> list[tuple[str, str]]:
    """The frames of an IPython traceback, outermost first: ``("cell", "7")`` for a frame
    in the cell executed as ``In[7]``, ``("file", path)`` for a frame in a module."""
    frames = []
    for entry in traceback:
        match = _FRAME.match(_ANSI.sub("", str(entry)).lstrip())
        if match and match["cell"]:
            frames.append(("cell", match["cell"]))
        elif match:
            frames.append(("file", match["file"]))
    return frames


def _raised_by_test(frames: list[tuple[str, str]], count: int | None) -> bool:
    """Whether the innermost frame outside :mod:`mbrl_helpers` is the test cell ``In[count]``
    (an ``assert`` of the test, or a check helper the test called itself)."""
    for kind, where in reversed(frames):
        if kind == "file" and where.startswith(HELPERS_DIR):
            continue
        return kind == "cell" and count is not None and where == str(count)
    return False


def failure_line(error: dict, count: int | None) -> str:
    """What the feedback says about a graded cell that failed.

    Args:
        error: the cell's nbformat error output (``ename``, ``evalue``, ``traceback``).
        count: the cell's execution count, as its own traceback frames name it (``In[7]``).

    Returns:
        ``failed: AssertionError: message`` (at most :data:`MAX_MESSAGE_CHARS` of it) when
        the test cell, or a :mod:`mbrl_helpers` check it called, raised the assertion;
        a fixed explanation for the grader's own errors (:data:`GRADER_ERRORS`); otherwise
        ``failed: Name (...)`` without the message, which is the student's text.
    """
    ename = str(error.get("ename", ""))
    frames = _frames(error.get("traceback") or [])
    if not frames and ename in GRADER_ERRORS:
        return f"failed: {GRADER_ERRORS[ename]}"
    if ename == "AssertionError" and _raised_by_test(frames, count):
        message = str(error.get("evalue", ""))
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[:MAX_MESSAGE_CHARS] + " [...]"
        return f"failed: AssertionError: {message}" if message else "failed: AssertionError"
    name = ename if _EXCEPTION_NAME.fullmatch(ename) else "an exception"
    return f"failed: {name} (messages are shown only for the test's own assertions)"


def _graded_outputs(cell: NotebookNode) -> list[NotebookNode]:
    """The single output a graded cell keeps: ``passed``, or why it failed: its verdict's
    message (:mod:`mbrl_helpers.grading.verdicts`), else its :func:`failure_line`."""
    from mbrl_helpers.grading.verdicts import verdict_of

    verdict = verdict_of(cell)
    if verdict is not None:
        if verdict.get("passed") is True:
            return [NotebookNode(output_type="stream", name="stdout", text="passed\n")]
        message = str(verdict.get("message", ""))[:MAX_MESSAGE_CHARS]
        return [NotebookNode(output_type="error", ename="", evalue="",
                             traceback=[f"failed: {message}"])]
    outputs = cell.get("outputs", [])
    errors = [out for out in outputs if out.get("output_type") == "error"]
    if errors:
        line = failure_line(errors[-1], cell.get("execution_count"))
    elif any(out.get("output_type") == "stream" and out.get("name") == "stderr"
             for out in outputs):
        line = "failed: the cell wrote to stderr"
    else:
        return [NotebookNode(output_type="stream", name="stdout", text="passed\n")]
    return [NotebookNode(output_type="error", ename="", evalue="", traceback=[line])]


class HideHiddenTests(ClearHiddenTests):
    """Graded test cells show their visible source and pass/fail with the instructor's
    message only; other cells lose the traceback frames that lie inside test cells."""

    _test_counts: frozenset[str] = frozenset()  # execution counts of the graded code cells

    def preprocess(self, nb, resources):
        self._test_counts = frozenset(str(cell.get("execution_count")) for cell in nb.cells
                                      if utils.is_grade(cell) and cell.cell_type == "code")
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code":
            return cell, resources
        if not utils.is_grade(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = self._outside_tests(output.get("traceback") or [])
            return cell, resources
        try:
            removed = self._remove_hidden_test_region(cell)
        except RuntimeError:  # unbalanced markers: hide the whole cell rather than leak it
            cell.source, removed = "# (hidden tests)", False
        if removed:
            cell.source = cell.source.rstrip() + "\n# (hidden tests are not shown)"
        cell.outputs = _graded_outputs(cell)
        return cell, resources

    def _outside_tests(self, traceback: list) -> list:
        """``traceback`` with each frame inside a test cell replaced by a note."""
        kept = []
        for entry in traceback:
            frame = _frames([entry])
            if frame and frame[0][0] == "cell" and frame[0][1] in self._test_counts:
                kept.append("(a frame inside a test cell is not shown)")
            else:
                kept.append(entry)
        return kept


class _ScriptFinder(HTMLParser):
    """Notices a ``<script>`` element in an HTML fragment."""

    found = False

    def handle_starttag(self, tag, attrs):
        self.found = self.found or tag == "script"


def _sanitize_bundle(data: dict) -> None:
    """Clean the untrusted representations of one display bundle in place."""
    for mimetype in _JS_MIMETYPES:
        data.pop(mimetype, None)
    if "image/svg+xml" in data:
        svg = data["image/svg+xml"]
        data["image/svg+xml"] = _SVG.clean("".join(svg) if isinstance(svg, list) else svg)
    if "text/html" in data:
        page = data["text/html"]
        page = "".join(page) if isinstance(page, list) else page
        finder = _ScriptFinder()
        finder.feed(page)
        data["text/html"] = _BODY.clean(page) + (_JS_NOTE if finder.found else "")


class SanitizeOutputs(Preprocessor):
    """Cleans ``text/html`` and ``image/svg+xml`` outputs with nh3 and drops JavaScript and
    widget outputs, in every code cell."""

    def preprocess_cell(self, cell, resources, cell_index):
        for output in cell.get("outputs", []):
            if "data" in output:
                _sanitize_bundle(output["data"])
        return cell, resources


#: Longest formula converted, in characters; longer ones stay LaTeX.
MAX_FORMULA_CHARS = 5_000
_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,}).*?(?:^ {0,3}(?P=fence)[`~]*[ \t]*$|\Z)",
                    re.M | re.S)
_MATH = re.compile(r"""
    (?P<ticks>`+)(?!`).*?[^`](?P=ticks)(?!`) | `+     # a code span, or a lone run of backticks
  | \$\$(?P<dollars>.+?)\$\$                          # display: $$...$$
  | \\\[(?P<brackets>.+?)\\\]                          # display: \[...\]
  | (?P<env>\\begin\{(?P<name>[A-Za-z]+\*?)\}.*?\\end\{(?P=name)\})  # display: environment
  | \\\((?P<parens>.+?)\\\)                            # inline: \(...\)
  | \\.                                                # an escape: \$ stays a dollar
  | \$(?![\s$])(?P<dollar>(?:\\.|(?!\n[ \t]*\n)[^$\\])*?)(?<![\s\\])\$(?!\d)  # inline: $...$
""", re.S | re.X)
# Environments latex2mathml lacks, as ones it has: (new \begin, new \end).
_ENVIRONMENTS = {
    **dict.fromkeys(("align", "aligned", "flalign", "flalign*"),
                    (r"\begin{align*}", r"\end{align*}")),
    **dict.fromkeys(("equation", "equation*", "displaymath"), ("{", "}")),
    **dict.fromkeys(("gather", "gather*", "gathered", "multline", "multline*"),
                    (r"\displaylines{", "}")),
    **dict.fromkeys(("eqnarray", "eqnarray*"), (r"\begin{array}{rcl}", r"\end{array}")),
}
_ENVIRONMENT = re.compile(r"\\(begin|end)\{([A-Za-z]+\*?)\}")
_ARG = re.compile(r"\\arg(?![A-Za-z])")  # the one standard operator latex2mathml lacks


def _char_refs(text: str) -> str:
    """``text`` with every character but ASCII letters, digits and spaces as a character
    reference, so that markdown sees no syntax in it and HTML no markup."""
    return re.sub(r"[^A-Za-z0-9 ]", lambda m: f"&#x{ord(m[0]):X};", text)


def _mathml(element) -> str:
    """An element tree from latex2mathml as HTML: allowlisted attributes only, all text as
    :func:`_char_refs`, every element closed explicitly."""
    attributes = "".join(f' {name}="{_char_refs(value)}"' for name, value in
                         element.attrib.items() if name in MATHML_ATTRIBUTES - {"xmlns"})
    inner = _char_refs(element.text or "") + "".join(_mathml(child) for child in element)
    return f"<{element.tag}{attributes}>{inner}</{element.tag}>{_char_refs(element.tail or '')}"


def _environment(match: re.Match) -> str:
    """The replacement of one ``\\begin{...}`` or ``\\end{...}`` (see ``_ENVIRONMENTS``)."""
    begin, end = _ENVIRONMENTS.get(match[2], (None, None))
    new = begin if match[1] == "begin" else end
    return match[0] if new is None else new


def _understood(math) -> bool:
    """Whether latex2mathml knew every command and ``&`` of a formula (it shows an unknown
    ``\\foo`` and a stray ``&`` as variables); decodes the character references it writes
    symbols as, on the way."""
    for element in math.iter():
        if element.tag in ("mi", "mo") and re.match(r"\\[A-Za-z]|&$", element.text or ""):
            return False
        element.text = html_lib.unescape(element.text) if element.text else None
        element.tail = html_lib.unescape(element.tail) if element.tail else None
    return True


def latex_to_mathml(latex: str, display: bool) -> str | None:
    """One formula as MathML, with its LaTeX in an ``<annotation>``.

    Args:
        latex: the formula without its delimiters (``s_{t+1} = f(s_t, a_t)``).
        display: a display formula (``display="block"``) rather than an inline one.

    Returns:
        The ``<math>`` element as HTML, or None where latex2mathml rejects the formula or
        does not know a command in it.
    """
    from latex2mathml.converter import convert_to_element

    if len(latex) > MAX_FORMULA_CHARS:
        return None
    kind = "block" if display else "inline"
    try:
        known = _ARG.sub(r"\\operatorname{arg}", _ENVIRONMENT.sub(_environment, latex))
        math = convert_to_element(known, display=kind)
        row = "".join(_mathml(child) for child in math) if _understood(math) else None
    except Exception:  # latex2mathml raises many kinds, RecursionError too: keep the LaTeX
        return None
    if row is None:
        return None
    annotation = f'<annotation encoding="application/x-tex">{_char_refs(latex)}</annotation>'
    # No xmlns: HTML puts <math> in the MathML namespace itself, and nbconvert re-serializes
    # headings with ElementTree, which would turn an xmlns into unknown "ns0:" prefixes.
    return f'<math display="{kind}"><semantics>{row}{annotation}</semantics></math>'


def _formula(match: re.Match) -> str:
    """The replacement of one :data:`_MATH` match: MathML for a formula that converts, its
    LaTeX as character references for one that does not, anything else unchanged."""
    for group, display in (("dollars", True), ("brackets", True), ("env", True),
                           ("parens", False), ("dollar", False)):
        if match[group] is not None:
            mathml = latex_to_mathml(match[group], display)
            return _char_refs(match[0]) if mathml is None else mathml
    return match[0]


def markdown_math_to_mathml(source: str) -> str:
    """A markdown cell's source with its formulas as MathML (see the module docstring);
    fenced code blocks and code spans are left as they are."""
    parts, start = [], 0
    for fence in _FENCE.finditer(source):
        parts += [_MATH.sub(_formula, source[start:fence.start()]), fence[0]]
        start = fence.end()
    return "".join(parts) + _MATH.sub(_formula, source[start:])


class MathToMathML(Preprocessor):
    """Typesets the formulas of markdown cells as MathML (see the module docstring)."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "markdown":
            cell.source = markdown_math_to_mathml(cell.source)
        return cell, resources


class _BodyFound(Exception):
    """Raised by :class:`_HeadReader` at the first ``<body>`` tag: (line, column), length."""


class _HeadReader(HTMLParser):
    """Reads the template's part of a page: the ``<title>`` and ``<style>`` sheets before
    the first ``<body>``, and where that tag is (raises :class:`_BodyFound` there)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.title, self.styles, self._inside = "", [], None

    def handle_starttag(self, tag, attrs):
        if tag == "body":
            raise _BodyFound(self.getpos(), len(self.get_starttag_text()))
        self._inside = tag if tag in ("title", "style") else None
        if tag == "style":
            self.styles.append("")

    def handle_endtag(self, tag):
        self._inside = None

    def handle_data(self, data):
        if self._inside == "title":
            self.title += data
        elif self._inside == "style":
            self.styles[-1] += data


def sanitize_feedback_html(page: str) -> str:
    """Make a feedback page safe to hand to a student.

    The template's head is replaced by one that holds its title, its ``<style>`` sheets
    (read only before the first ``<body>``, where no student text can be) and a strict
    Content-Security-Policy; the body is cleaned with nh3 (see the module docstring).

    Args:
        page: a whole HTML page written by nbgrader's ``generate_feedback``.

    Returns:
        The safe page; sanitizing it again returns it unchanged. A page without
        ``<body>`` is cleaned whole and keeps no style sheet.
    """
    reader = _HeadReader()
    body = page
    try:
        reader.feed(page)
    except _BodyFound as found:
        (line, column), length = found.args
        start = sum(len(row) + 1 for row in page.split("\n")[:line - 1]) + column
        body = page[start + length:]
    else:
        reader.styles = []
    styles = "".join(f"<style>{css}</style>\n" for css in reader.styles)
    return ("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CONTENT_SECURITY_POLICY}\">"
            "\n<meta name=\"referrer\" content=\"no-referrer\">\n"
            f"<title>{html_lib.escape(reader.title.strip())}</title>\n{styles}</head>\n"
            f"<body>\n{_BODY.clean(body).strip()}\n</body>\n</html>\n")


class FeedbackExporter(HTMLExporter):
    """nbgrader's HTML exporter whose pages go through :func:`sanitize_feedback_html`; set
    it as ``GenerateFeedback.exporter_class`` so every way of generating feedback is safe."""

    def from_notebook_node(self, nb, resources=None, **kw):
        page, resources = super().from_notebook_node(nb, resources, **kw)
        return sanitize_feedback_html(page), resources


def feedback_preprocessors() -> list:
    """The preprocessors of ``GenerateFeedback``: nbgrader's, plus :class:`HideHiddenTests`,
    :class:`SanitizeOutputs` and :class:`MathToMathML`."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    return [GetGrades, HideHiddenTests, SanitizeOutputs, MathToMathML,
            CSSHTMLHeaderPreprocessor]


def visible_text(html: str) -> str:
    """The text a reader of an HTML page sees (tags removed, entities decoded), to search
    feedback for leaked test code: syntax highlighting splits code into many tags."""
    text = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S | re.I)
    return html_lib.unescape(re.sub(r"<[^>]+>", "", text))
