"""`mbrl-course book`: the offline HTML book of the executed solutions (Sphinx + myst-nb).

One build (about 11 s on 2 cores) of the real solutions plus a small synthetic notebook whose
formulas, PNG plot and GIF animation are known; the browser test opens its pages in Chromium.
"""

from __future__ import annotations

import base64
import html
import http.server
import io
import re
import shutil
import threading
from pathlib import Path

import nbformat
import pytest

from mbrl_helpers.grading.book import (
    MATHJAX_CONFIG,
    MATHJAX_DIRS,
    book_source,
    build_book,
    course_outline,
    find_mathjax,
    offline_html,
)
from mbrl_helpers.grading.cli import main
from mbrl_helpers.grading.course import CourseError, notebook_names
from mbrl_helpers.grading.release import MARKERS, secret_pairs, text_pairs

SYNTH = "99_synthetic"
SECRET_WORDS = ("SYNTHETIC_HIDDEN_TEST", "SYNTHETIC_VERDICT", "SYNTHETIC_HIDDEN_OUTPUT",
                "cdn.example.org")
needs_mathjax = pytest.mark.skipif(
    not any((folder / "MathJax.js").is_file() for folder in MATHJAX_DIRS),
    reason="no MathJax 2 to bundle: sudo apt-get install libjs-mathjax")
_REMOTE = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)=[\"']?(?:https?:)?//", re.I)
_VERDICT = re.compile(r"^\s*#+\s*BEGIN VERDICT\s*$(.*?)^\s*#+\s*END VERDICT\s*$", re.S | re.M)
_GRADER = re.compile(r"^\s*#+\s*BEGIN (HIDDEN TESTS|VERDICT)\s*$.*?^\s*#+\s*END \1\s*$",
                     re.S | re.M)


def _image(fmt: str, frames: int = 1) -> str:
    """A small base64 image drawn with Pillow: a PNG plot or an animated GIF."""
    from PIL import Image

    images = [Image.new("RGB", (48, 32), (40 * i, 90, 200)) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, format=fmt, save_all=frames > 1, append_images=images[1:],
                   duration=100, loop=0)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _synthetic_notebook() -> nbformat.NotebookNode:
    """Math in markdown, a solution, a graded cell with hidden tests and a verdict, a PNG
    output, and an animation as the notebooks store it (text/html with a GIF)."""
    new = nbformat.v4
    graded = ("# Hidden tests for f (1 point): what they check.\n### BEGIN HIDDEN TESTS\n"
              "SYNTHETIC_HIDDEN_TEST = f()\nprint('SYNTHETIC_HIDDEN_OUTPUT')\n"
              "### END HIDDEN TESTS\n### BEGIN VERDICT\ndef verdict(obs):\n"
              "    assert 'SYNTHETIC_VERDICT'\n### END VERDICT")
    animation = ('<link rel="stylesheet" href="https://cdn.example.org/player.css">\n'
                 '<img class="mbrl-animation" width="48" alt="animation" '
                 f'src="data:image/gif;base64,{_image("GIF", frames=3)}">')
    cells = [
        new.new_markdown_cell("# 99 · Synthetic page\n\nInline $x^2$ and a display formula\n\n"
                              "$$\\sum_t r_t$$"),
        new.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 'SYNTHETIC_SOLUTION'\n"
                          "    ### END SOLUTION"),
        new.new_code_cell(graded, outputs=[new.new_output(
            "stream", name="stdout", text="SYNTHETIC_HIDDEN_OUTPUT\n")]),
        new.new_code_cell("plt.show()", outputs=[new.new_output(
            "display_data", data={"image/png": _image("PNG"), "text/plain": "<Figure>"})]),
        new.new_code_cell("display(HTML(animation_html(anim)))", outputs=[new.new_output(
            "display_data", data={"text/html": animation, "text/plain": "<HTML>"})]),
    ]
    cells[2].metadata["nbgrader"] = {"grade": True, "solution": False, "points": 1}
    return new.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})


@pytest.fixture(scope="module")
def course(root, tmp_path_factory) -> Path:
    """A copy of the course with one more, synthetic, notebook."""
    course = tmp_path_factory.mktemp("course")
    for name in ("README.md", "pyproject.toml"):
        shutil.copy(root / name, course / name)
    shutil.copytree(root / "solutions", course / "solutions")
    nbformat.write(_synthetic_notebook(), course / "solutions" / f"{SYNTH}.ipynb")
    return course


@pytest.fixture(scope="module")
def book(course, tmp_path_factory) -> Path:
    """The book of that copy, built once (tests that use it are marked ``needs_mathjax``)."""
    out = tmp_path_factory.mktemp("book") / "html"
    report = build_book(course, out, quiet=True)
    assert report.pages == notebook_names(course) and report.warnings == []
    assert report.remote_tags_dropped >= 1  # the synthetic player stylesheet at least
    return out


def _pairs(text: str) -> set[tuple[str, str]]:
    """Consecutive line pairs of ``text``, also with short lines skipped (as secret_pairs)."""
    long_lines = "\n".join(line for line in text.splitlines() if len(line.strip()) >= 8)
    return text_pairs(text) | text_pairs(long_lines)


def _text(page: Path) -> str:
    """The text of an HTML page: tags removed, entities decoded (code keeps its lines)."""
    body = re.sub(r"<(script|style)\b.*?</\1>", "", page.read_text(encoding="utf-8"), flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", body))


def test_book_source_keeps_solutions_and_drops_hidden_tests_and_verdicts():
    source, removed = book_source(_synthetic_notebook().cells[2].source)
    assert source == "# Hidden tests for f (1 point): what they check."
    assert removed == {"HIDDEN TESTS", "VERDICT"}
    source, removed = book_source(_synthetic_notebook().cells[1].source)
    assert source == "def f():\n    return 'SYNTHETIC_SOLUTION'" and removed == set()


def test_offline_html_drops_only_remote_scripts_and_stylesheets():
    text, dropped = offline_html('<link rel="stylesheet" href="https://x.org/a.css">'
                                 '<script src="//x.org/a.js"></script><script>var a;</script>'
                                 '<link rel="stylesheet" href="_static/b.css">')
    assert dropped == 2
    assert text == '<script>var a;</script><link rel="stylesheet" href="_static/b.css">'


def test_outline_comes_from_the_readme_table(root):
    outline = course_outline(root / "README.md")
    assert list(outline) == notebook_names(root)
    assert all(topic and points.isdigit() for topic, points in outline.values())


def test_missing_mathjax_names_the_debian_package(root, tmp_path, capsys):
    with pytest.raises(CourseError, match="libjs-mathjax"):
        find_mathjax(tmp_path)
    code = main(["--root", str(root), "book", "--mathjax", str(tmp_path),
                 "--out", str(tmp_path / "out")])
    assert code == 2 and "apt-get install libjs-mathjax" in capsys.readouterr().err


def test_an_out_folder_that_is_not_a_book_is_left_alone(root, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(CourseError, match="other than a book"):
        build_book(root, tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


@needs_mathjax
def test_one_page_per_notebook_with_index_search_and_github_pages_marker(book, course):
    for name in ["index", "search", "genindex", *notebook_names(course)]:
        assert (book / f"{name}.html").is_file(), name
    assert (book / "searchindex.js").stat().st_size > 10_000
    assert (book / ".nojekyll").is_file()  # GitHub Pages serves _static/ and _images/
    assert 'id="searchbox"' in (book / "02_shooting_and_cem.html").read_text(encoding="utf-8")


@needs_mathjax
def test_index_lists_every_notebook_with_its_readme_topic(book, course):
    index = (book / "index.html").read_text(encoding="utf-8")
    text = " ".join(_text(book / "index.html").split())
    for name, (topic, _points) in course_outline(course / "README.md").items():
        assert f'href="{name}.html"' in index
        assert " ".join(re.sub(r"`", "", topic).split()) in text, topic
    assert f'href="{SYNTH}.html"' in index  # a notebook the README does not list yet


@needs_mathjax
def test_no_grader_marker_hidden_test_or_verdict_in_any_page(book, course):
    pages = {page: _text(page) for page in book.rglob("*.html")}
    checked = 0
    for page, text in pages.items():
        assert not [m for m in MARKERS if m in text], page.name
        assert not [w for w in SECRET_WORDS if w in text], page.name
    for path in sorted((course / "solutions").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        tests = [c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")
                 and not c.metadata.get("nbgrader", {}).get("solution")]
        hidden = secret_pairs(nbformat.v4.new_notebook(cells=tests))
        for cell in tests:
            for block in _VERDICT.findall(cell.source):
                hidden |= {p for p in text_pairs(block) if min(map(len, p)) >= 8}
        solutions = secret_pairs(notebook) - hidden
        public = "\n\n".join(_GRADER.sub("", cell.source) for cell in notebook.cells)
        hidden -= _pairs(public)  # e.g. a helper a visible check defines, repeated hidden
        checked += len(hidden)
        shown = _pairs(pages[book / f"{path.stem}.html"])
        assert not sorted(hidden & shown), f"{path.stem}: {sorted(hidden & shown)[:2]}"
        missing = sorted(solutions - shown)
        assert not missing, f"{path.stem} misses solution code {missing[:2]}"
    assert "SYNTHETIC_SOLUTION" in pages[book / f"{SYNTH}.html"]
    assert checked > 500  # the search looked for many hidden-test and verdict lines


@needs_mathjax
def test_offline_no_remote_script_or_stylesheet_and_mathjax_bundled(book):
    for page in book.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not _REMOTE.search(text), f"{page.name}: {_REMOTE.search(text).group(0)}"
    for css in (book / "_static").glob("*.css"):
        assert not re.search(r"url\(\s*[\"']?(?:https?:)?//", css.read_text()), css.name
    mathjax = book / "_static" / "mathjax"
    assert (mathjax / "MathJax.js").is_file()
    assert (mathjax / "config" / f"{MATHJAX_CONFIG}.js").is_file()
    assert sum(f.stat().st_size for f in mathjax.rglob("*") if f.is_file()) < 4_000_000
    page = (book / f"{SYNTH}.html").read_text(encoding="utf-8")
    assert f'src="_static/mathjax/MathJax.js?config={MATHJAX_CONFIG}"' in page


@needs_mathjax
def test_plots_and_animations_are_in_the_pages(book, course):
    page = (book / f"{SYNTH}.html").read_text(encoding="utf-8")
    assert '<img class="mbrl-animation"' in page and "data:image/gif;base64," in page
    for path in sorted((course / "solutions").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        pngs = sum("image/png" in o.get("data", {}) for c in notebook.cells
                   for o in c.get("outputs", []))
        page = (book / f"{path.stem}.html").read_text(encoding="utf-8")
        assert len(re.findall(r'<img [^>]*src="_images/[0-9a-f]+\.png"', page)) >= pngs, path.stem
        gifs = sum('class="mbrl-animation"' in o.get("data", {}).get("text/html", "")
                   for c in notebook.cells for o in c.get("outputs", []))
        assert page.count('<img class="mbrl-animation"') == gifs, path.stem
    shown = {path.stem[:2] for path in (course / "solutions").glob("*.ipynb")
             if gifs_in_course(course, path.name)}
    assert shown >= {"02", "03", "04", "05", "06", "07"}, shown  # each shows an animation


def gifs_in_course(course, pattern: str = "*.ipynb") -> int:
    """GIF animations stored in the outputs of the course's solution notebooks."""
    return sum('class="mbrl-animation"' in o.get("data", {}).get("text/html", "")
               for path in (course / "solutions").glob(pattern)
               for c in nbformat.read(path, as_version=4).cells for o in c.get("outputs", []))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        """No request log in the test output."""


@pytest.fixture(scope="module")
def site(book):
    """The book served on a free local port, as GitHub Pages would serve it."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: _QuietHandler(*a, directory=str(book)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


_PAGE_FACTS = """async () => {
    const body = document.querySelector('div.body');
    const math = [...body.querySelectorAll('span.math, div.math')];
    const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
    let prose = '';
    while (walker.nextNode()) {
        const node = walker.currentNode;
        if (!node.parentElement.closest('pre, code, script, style')) prose += node.data + ' ';
    }
    const loaded = img => img.complete && img.naturalWidth > 0;
    const imgs = [...body.querySelectorAll('img')];
    // a web-only face of MathJax's fonts: it loads from the bundle, never from system fonts
    const faces = await document.fonts.load('16px MJXc-TeX-main-Rw', 'x');
    return {
        math: math.length,
        unrendered: math.filter(e => !e.querySelector('.MathJax_CHTML')).length,
        errors: body.querySelectorAll('.mjx-noError, .MathJax_Error, .mjx-merror').length,
        mathWidth: Math.max(0, ...math.map(e => e.getBoundingClientRect().width)),
        prose: prose,
        pngs: imgs.filter(i => i.src.endsWith('.png') && loaded(i)).length,
        broken: imgs.filter(i => !loaded(i)).map(i => i.src.slice(0, 80)),
        gifs: [...body.querySelectorAll('img.mbrl-animation')].map(loaded),
        webfont: faces.length > 0 && faces.every(face => face.status === 'loaded'),
    };
}"""


def _open(browser, url: str) -> tuple[dict, list[str]]:
    """Open ``url``, wait until MathJax has typeset it; return its facts and bad requests."""
    page = browser.new_page()
    bad: list[str] = []
    page.on("requestfailed", lambda r: bad.append(f"failed {r.url[:100]}"))
    page.on("request", lambda r: bad.append(f"remote {r.url[:100]}")
            if not r.url.startswith(url.rsplit("/", 1)[0]) and not r.url.startswith("data:")
            else None)
    page.goto(url)
    page.wait_for_function("window.MathJax && MathJax.Hub && MathJax.Hub.Register",
                           timeout=30_000)
    page.evaluate("() => new Promise(done => MathJax.Hub.Register.StartupHook('End', done))")
    facts = page.evaluate(_PAGE_FACTS)
    page.close()
    return facts, [b for b in bad if "favicon.ico" not in b]


def _assert_rendered(facts: dict, bad: list[str], where: str) -> None:
    assert facts["math"] > 0 and facts["unrendered"] == 0 and facts["errors"] == 0, where
    assert facts["mathWidth"] > 0, f"{where}: formulas have no size"
    assert facts["webfont"], f"{where}: the bundled MathJax web fonts do not load"
    leftovers = [t for t in ("$$", "\\(", "\\[", "\\sum") if t in facts["prose"]]
    assert not leftovers, f"{where}: raw TeX {leftovers} in the text"
    assert facts["pngs"] >= 1 and not facts["broken"], f"{where}: {facts['broken']}"
    assert all(facts["gifs"]), f"{where}: an animation did not load"
    assert not bad, f"{where}: {bad}"


@needs_mathjax
@pytest.mark.slow
def test_formulas_plots_and_animations_render_in_chromium(browser, site):
    facts, bad = _open(browser, site + f"{SYNTH}.html")
    _assert_rendered(facts, bad, SYNTH)
    assert facts["math"] == 2 and facts["gifs"] == [True]
    facts, bad = _open(browser, site + "02_shooting_and_cem.html")
    _assert_rendered(facts, bad, "02_shooting_and_cem")
    # the swing-up animation: a GIF in <img class="mbrl-animation"> that loaded
    assert facts["gifs"], "02_shooting_and_cem shows no animation"


@needs_mathjax
@pytest.mark.slow
def test_search_box_finds_pages_offline(browser, site):
    page = browser.new_page()
    page.goto(site + "search.html?q=pendulum")
    page.wait_for_selector("ul.search li", timeout=30_000)
    assert page.locator("ul.search li").count() >= 3
    page.close()
