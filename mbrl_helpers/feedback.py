"""Feedback without hidden tests (nbgrader alone copies them into the HTML, issue #917).

:class:`HideHiddenTests` runs inside nbgrader's ``generate_feedback``: in every graded test
cell it removes the hidden-test region from the source and shortens the traceback of a
failure to its last line (``AssertionError: message``), because a traceback quotes the
failing line of the hidden test. Students still see which cells passed, the visible test
code, and the error message.
"""

from __future__ import annotations

from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests


class HideHiddenTests(ClearHiddenTests):
    """Strip hidden tests and their tracebacks from graded cells of an autograded notebook."""

    def preprocess_cell(self, cell, resources, cell_index):
        if not utils.is_grade(cell) or cell.cell_type != "code":
            return cell, resources
        try:
            removed = self._remove_hidden_test_region(cell)
        except RuntimeError:  # unbalanced markers: hide the whole cell rather than leak it
            cell.source = "# (hidden tests)"
            removed = True
        if removed:
            cell.source = cell.source.rstrip() + "\n# (hidden tests are not shown)"
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: "
                                           f"{output.get('evalue', '')}"]
        return cell, resources


def feedback_preprocessors() -> list:
    """The preprocessors of ``GenerateFeedback``: nbgrader's, plus :class:`HideHiddenTests`."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    return [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]


def visible_text(html: str) -> str:
    """The text a reader of an HTML page sees (tags removed, entities decoded), to search
    feedback for leaked test code: syntax highlighting splits code into many tags."""
    import html as html_lib
    import re

    text = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S | re.I)
    return html_lib.unescape(re.sub(r"<[^>]+>", "", text))
