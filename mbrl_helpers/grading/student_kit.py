"""``mbrl-course student-kit``: the zip a course hands to its students.

``OUT.zip`` holds one folder, named after the zip::

    OUT/README.md          install, open, validate, submit
    OUT/requirements.txt   the course's exact pins, less the grader-only packages
    OUT/mbrl_helpers-VERSION+student-py3-none-any.whl
    OUT/notebooks/*.ipynb  the release (nbgrader's generate_assignment), never solutions/

The wheel is written here, file by file, without a build backend or network: the helper
package without the grader (of :mod:`mbrl_helpers.grading` only
:mod:`~mbrl_helpers.grading.probe`, which the test cells import), no console script, and
Jupyter configuration installed into the student's environment (``PREFIX/etc/jupyter``):

* JupyterLab keeps nbgrader's Validate button and loses the instructor's side (the
  Nbgrader menu, the formgrader, the create-assignment panel, the course list) and the
  assignment list, which needs an exchange the kit does not have;
* the matching nbgrader server extensions are off (validate stays on);
* kernels started by JupyterLab and by ``nbgrader validate`` get CurveZMQ keys, so code and
  outputs do not travel as plain text over local TCP (ipykernel warns when they do);
* an ``nbgrader_config.py``, so nbgrader does not warn that it found none.

Before writing the zip, :func:`build_kit` scans every file of the kit, inside the wheel too,
for solution, hidden-test and verdict text, and refuses to write a kit that leaks.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import time
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from mbrl_helpers.grading.course import RELEASE, SOLUTIONS, CourseError, notebook_names
from mbrl_helpers.grading.release import MARKERS, _regions, secret_pairs, text_pairs

#: Dependencies only the grader uses (feedback pages: sanitizer, formula rendering).
GRADER_ONLY = ("nh3", "latex2mathml")
#: Local version label of the student wheel: ``pip show mbrl-helpers`` tells the two apart.
LOCAL_VERSION = "student"
#: The only files of ``mbrl_helpers/grading`` in the student wheel.
STUDENT_GRADING = ("mbrl_helpers/grading/__init__.py", "mbrl_helpers/grading/probe.py")
#: JupyterLab plugins of ``@jupyter/nbgrader`` that the student install disables; only
#: ``@jupyter/nbgrader:validate-assignment`` (the Validate button) stays.
DISABLED_LAB_PLUGINS = (
    "@jupyter/nbgrader:menu",
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
    "@jupyter/nbgrader:assignment-list",
)
#: nbgrader server extensions the student install disables; validate_assignment stays.
DISABLED_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.course_list",
    "nbgrader.server_extensions.assignment_list",
)
_GRADING_INIT = '''"""The course's grading tools, as far as the notebooks need them: only
:mod:`~mbrl_helpers.grading.probe`, with which a test cell records what your code does. The
grader itself (verdicts, autograde) is not part of the student install."""
'''
_JUPYTER_CONFIG = '''\
# Installed by the course's student kit (the mbrl-helpers wheel); every Jupyter application
# of this environment reads it (JupyterLab, nbgrader validate, nbconvert).
# Kernels get CurveZMQ keys from the application that starts them, so code and outputs do not
# travel as plain text over local TCP (ipykernel warns when they do).
import zmq

if zmq.has("curve"):
    c = get_config()  # noqa: F821
    c.KernelManager.transport_encryption = "auto"
    c.MappingKernelManager.transport_encryption = "auto"
'''
_NBGRADER_CONFIG = '''\
# Installed by the course's student kit (the mbrl-helpers wheel). Students use nbgrader only
# to validate a notebook (the Validate button, `nbgrader validate`): no course directory, no
# exchange, nothing to configure. This file exists so that nbgrader does not warn that it
# found no configuration.
c = get_config()  # noqa: F821
'''
_README = """\
# Model-based reinforcement learning: student kit

Python 3.11 on Linux or macOS (Windows: use WSL). Everything below runs in this folder,
`{folder}/`.

## Install (once, a few minutes)

```bash
python3.11 -m venv .venv && source .venv/bin/activate
pip install -r requirements.txt {wheel}
```

On Linux, `pip` takes the CUDA build of PyTorch (several GB); a CPU is enough for this
course, so add `--extra-index-url https://download.pytorch.org/whl/cpu` to the `pip install`
line for the small CPU build.

## Open

```bash
source .venv/bin/activate
jupyter lab notebooks/
```

Start with `00_course_tour.ipynb`: it explains how exercises, visible checks and hidden tests
work. Replace each `# YOUR CODE HERE` / `raise NotImplementedError()` with your code and run
the visible checks right below it.

## Validate

Before you submit: *Kernel > Restart Kernel and Run All Cells*, then the **Validate** button
in the notebook's toolbar (or `nbgrader validate notebooks/00_course_tour.ipynb` in a
terminal). It runs the notebook and lists the cells whose checks fail; "Success" means every
visible check passes. Hidden tests are run only when your notebook is graded.

## Submit

Upload each notebook you worked on as the course asks (e.g. on its learning platform): the
`.ipynb` file itself, with its name unchanged. Do not delete, copy or reorder cells, and do
not edit test cells: the grader restores them.

## Contents

- `README.md`: this file
- `requirements.txt`: the exact versions of the packages the course uses
- `{wheel}`: the course's helper package `mbrl_helpers`
{listing}
"""


@dataclass
class KitReport:
    """What :func:`build_kit` wrote."""

    path: Path
    wheel: str
    notebooks: list[str]
    members: list[str]


def _project(root: Path) -> dict:
    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def student_pins(root: Path) -> list[str]:
    """The pyproject's ``[project].dependencies`` without :data:`GRADER_ONLY`, each ``==``.

    Raises:
        CourseError: a dependency is not pinned exactly.
    """
    pins = []
    for dep in _project(root)["dependencies"]:
        name, sep, version = dep.partition("==")
        if not sep or not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or not version:
            raise CourseError(f"pyproject.toml: dependency {dep!r} is not pinned with ==")
        if name.lower() not in GRADER_ONLY:
            pins.append(dep)
    return pins


def student_version(root: Path) -> str:
    return f"{_project(root)['version']}+{LOCAL_VERSION}"


def config_files() -> dict[str, str]:
    """Jupyter configuration of the student install, by path under ``PREFIX``."""
    etc = "etc/jupyter"
    page = {"disabledExtensions": {plugin: True for plugin in DISABLED_LAB_PLUGINS}}
    files = {
        f"{etc}/jupyter_config.py": _JUPYTER_CONFIG,
        f"{etc}/nbgrader_config.py": _NBGRADER_CONFIG,
        f"{etc}/labconfig/page_config.d/mbrl_helpers_student.json": json.dumps(page, indent=2),
    }
    # Named as `jupyter server extension disable --sys-prefix` names them: read after
    # nbgrader's own nbgrader.json (alphabetical order), and `enable` overwrites them.
    for ext in DISABLED_SERVER_EXTENSIONS:
        data = {"ServerApp": {"jpserver_extensions": {ext: False}}}
        files[f"{etc}/jupyter_server_config.d/{ext}.json"] = json.dumps(data, indent=2)
    return {path: text if text.endswith("\n") else text + "\n" for path, text in files.items()}


def package_files(root: Path) -> dict[str, bytes]:
    """The helper package as the student gets it, by path in the wheel."""
    files = {}
    for path in sorted((root / "mbrl_helpers").rglob("*")):
        rel = path.relative_to(root).as_posix()
        if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        if rel.startswith("mbrl_helpers/grading/") and rel not in STUDENT_GRADING:
            continue
        files[rel] = path.read_bytes()
    files["mbrl_helpers/grading/__init__.py"] = _GRADING_INIT.encode()
    return files


def _metadata(root: Path) -> str:
    project = _project(root)
    lines = ["Metadata-Version: 2.1", "Name: mbrl-helpers",
             f"Version: {student_version(root)}",
             "Summary: Helper package of the model-based RL course notebooks (student install)",
             f"Requires-Python: {project['requires-python']}",
             f"License: {project.get('license', {}).get('text', '')}"]
    lines += [f"Requires-Dist: {pin}" for pin in student_pins(root)]
    return "\n".join(lines) + "\n"


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def _zip_bytes(files: dict[str, bytes], date_time: tuple = (1980, 1, 1, 0, 0, 0)) -> bytes:
    """A zip of ``files`` in the given order, every member dated ``date_time`` (default: the
    fixed date of reproducible wheels)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buffer.getvalue()


def build_wheel(root: Path) -> tuple[str, bytes]:
    """The student wheel of the helper package: ``(file name, bytes)``."""
    version = student_version(root)
    dist, data = f"mbrl_helpers-{version}.dist-info", f"mbrl_helpers-{version}.data/data"
    files = package_files(root)
    files.update({f"{data}/{path}": text.encode() for path, text in config_files().items()})
    files[f"{dist}/METADATA"] = _metadata(root).encode()
    files[f"{dist}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: mbrl-course student-kit\n"
                              b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    files[f"{dist}/top_level.txt"] = b"mbrl_helpers\n"
    record = [_record_line(path, content) for path, content in files.items()]
    files[f"{dist}/RECORD"] = ("\n".join(record + [f"{dist}/RECORD,,"]) + "\n").encode()
    return f"mbrl_helpers-{version}-py3-none-any.whl", _zip_bytes(files)


def requirements_text(root: Path) -> str:
    header = ("# The course's exact versions (from its pyproject.toml): every student gets the\n"
              "# same behaviour as the course's tests. Install with the wheel, see README.md.\n")
    return header + "\n".join(student_pins(root)) + "\n"


def student_readme(folder: str, wheel: str, notebooks: list[str]) -> str:
    """The kit's README: install, open, validate, submit."""
    listing = "\n".join(f"- `notebooks/{name}.ipynb`" for name in notebooks)
    return _README.format(folder=folder, wheel=wheel, listing=listing)


def verdict_pairs(notebook: nbformat.NotebookNode) -> set[tuple[str, str]]:
    """Consecutive pairs of distinctive lines of the verdict blocks (grader code)."""
    block = re.compile(r"^\s*#+\s*BEGIN VERDICT\s*$(.*?)^\s*#+\s*END VERDICT\s*$", re.S | re.M)
    imports = re.compile(r"^(import|from)\s")
    pairs: set[tuple[str, str]] = set()
    for cell in notebook.cells:
        for text in block.findall(cell.source):
            lines = [x.strip() for x in text.splitlines() if len(x.strip()) >= 8]
            pairs.update(p for p in zip(lines, lines[1:], strict=False)
                         if not any(imports.match(x) for x in p))
    return pairs


def _public_pairs(notebook: nbformat.NotebookNode) -> set[tuple[str, str]]:
    """Line pairs of what the release shows of a source notebook: outside every region."""
    pairs: set[tuple[str, str]] = set()
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        _, outside = _regions(cell.source)
        if not (meta.get("solution") and outside == cell.source.splitlines()):
            pairs |= text_pairs("\n".join(outside))  # (not a whole-cell solution)
    return pairs


def course_secrets(root: Path) -> set[tuple[str, str]]:
    """Line pairs of every solution, hidden test and verdict in ``solutions/`` that the release
    does not show anyway: a hidden test may repeat a visible check's lines, and a later
    notebook may hand out an earlier one's solution as a given tool (06 gives 05's)."""
    secrets: set[tuple[str, str]] = set()
    public: set[tuple[str, str]] = set()
    for name in notebook_names(root):
        notebook = nbformat.read(root / SOLUTIONS / f"{name}.ipynb", as_version=4)
        secrets |= secret_pairs(notebook) | verdict_pairs(notebook)
        public |= _public_pairs(notebook)
    return secrets - public


def _member_text(name: str, data: bytes) -> str:
    text = data.decode("utf-8", errors="replace")
    if name.endswith(".ipynb"):  # the JSON escapes newlines: compare the cells' text
        notebook = nbformat.reads(text, as_version=4)
        return text + "\n" + "\n".join(cell.source for cell in notebook.cells)
    return text


def find_kit_leaks(files: dict[str, bytes], secrets: set[tuple[str, str]]) -> list[str]:
    """Name every file of ``files`` (a ``.whl`` is opened) holding secret text or a marker."""
    leaks = []
    for name, data in files.items():
        if name.endswith((".whl", ".zip")):
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                inner = {n: zf.read(n) for n in zf.namelist() if not n.endswith("/")}
            leaks += [f"{name}:{leak}" for leak in find_kit_leaks(inner, secrets)]
            continue
        text = _member_text(name, data)
        found = sorted(text_pairs(text) & secrets)
        if found:
            leaks.append(f"{name} contains solution, hidden-test or verdict code {found[0]}")
        leaks += [f"{name} contains the marker {m!r}" for m in MARKERS if m in text]
    return leaks


def build_kit(root: Path, out: Path, *, check_release: bool = True) -> KitReport:
    """Write the student kit ``out`` (a ``.zip``) from the repository ``root``.

    Args:
        root: the course repository.
        out: the zip to write; its folder inside is named after it.
        check_release: first prove with nbgrader that ``notebooks/`` matches ``solutions/``
            (about 20 s); the CLI skips it only when asked.

    Raises:
        CourseError: ``out`` is not a ``.zip``, the release is missing or stale, or the kit
            would contain solution, hidden-test or verdict text.
    """
    out = Path(out)
    if out.suffix != ".zip":
        raise CourseError(f"the student kit is a zip file: {out} does not end in .zip")
    names = notebook_names(root)
    missing = [n for n in names if not (root / RELEASE / f"{n}.ipynb").is_file()]
    if missing:
        raise CourseError(f"{RELEASE}/{missing[0]}.ipynb is missing: run `mbrl-course release`")
    if check_release:
        from mbrl_helpers.grading.release import release

        problems = release(root, names, check=True).problems
        if problems:
            raise CourseError("the release is not current: " + "; ".join(problems))
    files = _kit_files(root, out.stem, names)
    leaks = find_kit_leaks(files, course_secrets(root))
    if leaks:
        raise CourseError("the kit would leak: " + "; ".join(leaks[:5]))
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.write_bytes(_zip_bytes(files, time.localtime()[:6]))
    partial.replace(out)
    wheel = next(n for n in files if n.endswith(".whl"))
    return KitReport(out, wheel.rsplit("/", 1)[-1], names, list(files))


def _kit_files(root: Path, folder: str, names: list[str]) -> dict[str, bytes]:
    wheel_name, wheel = build_wheel(root)
    files = {
        f"{folder}/README.md": student_readme(folder, wheel_name, names).encode(),
        f"{folder}/requirements.txt": requirements_text(root).encode(),
        f"{folder}/{wheel_name}": wheel,
    }
    for name in names:
        files[f"{folder}/notebooks/{name}.ipynb"] = (root / RELEASE / f"{name}.ipynb").read_bytes()
    return files
