"""Give a submitted notebook back the nbgrader metadata of the instructor's notebook.

nbgrader knows a graded cell only by its metadata (``metadata.nbgrader``: ``grade_id``,
``points``, ``grade``, ``solution``, ``locked``). A student can damage it (edit it, copy a
graded cell, invent a ``grade_id``) or lose all of it (another editor, "Clear metadata"),
and nbgrader would then grade the notebook 0 with status "graded", or reject it.

:func:`repair_metadata` runs before autograde. It makes every cell that carries metadata
carry the instructor's, and, when graded cells lost theirs, calls :func:`match_release`,
which finds those cells again by their cell ids (nbformat 4.5 ids are kept in the
release), else by order, cell type and content, and restores their metadata. When the
notebook cannot be matched with confidence, :class:`UnmatchedNotebook` is raised, with the
line for the student's row, so nobody gets a silent 0.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from nbformat import NotebookNode

#: nbgrader metadata keys that generate_assignment adds to the release.
RELEASE_KEYS = ("checksum", "cell_type")
#: Share of the reference's cells that must be found in a submission (unchanged, by cell id
#: or by their metadata) before cells that lost their metadata are matched to it.
MIN_ANCHORS = 0.5
#: The start of :class:`UnmatchedNotebook`'s message.
UNMATCHED = "nbgrader metadata missing and the notebook could not be matched to the release"
_HELD, _BY_ID, _SAME = 5.0, 3.0, 2.0  # pair scores: kept metadata, cell id, identical content


class UnmatchedNotebook(Exception):
    """Graded cells lost their nbgrader metadata and the notebook does not match the release.

    ``str(err)`` is one line for the student's row, starting with :data:`UNMATCHED`; grade
    the notebook by hand (or ask the student for a copy saved from Jupyter).
    """


@dataclass(frozen=True)
class _Known:
    meta: dict  # the source's nbgrader metadata, without release-only keys
    cell_type: str
    cell_id: str | None
    extras: dict | None  # the release's release-only keys (None: no release given)


@dataclass(frozen=True)
class _Ref:
    cell_type: str
    cell_id: str | None
    grade_id: str | None
    text: str
    lines: frozenset[str]


def _nbgrader(cell: NotebookNode) -> object:
    return cell.get("metadata", {}).get("nbgrader")


def _known(source: NotebookNode, release: NotebookNode | None) -> dict[str, _Known]:
    """The source's cells with a ``grade_id``, by ``grade_id``."""
    released = {}
    for cell in release.cells if release is not None else []:
        meta = _nbgrader(cell)
        if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
            released[meta["grade_id"]] = {k: meta[k] for k in RELEASE_KEYS if k in meta}
    known = {}
    for cell in source.cells:
        meta = _nbgrader(cell)
        if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
            clean = {k: v for k, v in meta.items() if k not in RELEASE_KEYS}
            extras = released.get(meta["grade_id"]) if release is not None else None
            known[meta["grade_id"]] = _Known(clean, cell.cell_type, cell.get("id"), extras)
    return known


def _set(cell: NotebookNode, known: _Known) -> bool:
    """Give ``cell`` the source's metadata unless it has it; return whether it changed.

    Release-only keys (which nbgrader recomputes) come from the release, else from the
    cell's own metadata, else the source cell's type."""
    old = _nbgrader(cell)
    old = old if isinstance(old, dict) else {}
    if {k: v for k, v in old.items() if k not in RELEASE_KEYS} == known.meta:
        return False
    extras = known.extras or {k: old[k] for k in RELEASE_KEYS if k in old}
    cell.metadata["nbgrader"] = {**known.meta, **(extras or {"cell_type": known.cell_type})}
    return True


def _holders(submitted: NotebookNode, known: dict[str, _Known]) -> tuple[dict, list[str]]:
    """Cells holding a known ``grade_id`` (by ``grade_id``); remove any other metadata."""
    holders: dict[str, list[int]] = defaultdict(list)
    notes = []
    for index, cell in enumerate(submitted.cells):
        if "nbgrader" not in cell.get("metadata", {}):
            continue
        meta = cell.metadata["nbgrader"]
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if isinstance(grade_id, str) and grade_id in known:
            holders[grade_id].append(index)
        else:
            del cell.metadata["nbgrader"]
            shown = grade_id if isinstance(grade_id, str | None) else type(grade_id).__name__
            notes.append(f"unknown nbgrader metadata removed from cell {index} ({shown})")
    return holders, notes


def _clean(submitted: NotebookNode, known: dict[str, _Known]) -> list[str]:
    """Metadata the instructor wrote for every cell that holds a known ``grade_id``; one
    holder per ``grade_id`` (the cell with the source's cell id, else the first)."""
    holders, notes = _holders(submitted, known)
    for grade_id, indices in holders.items():
        same_id = [i for i in indices if submitted.cells[i].get("id") == known[grade_id].cell_id]
        keep = (same_id or indices)[0]
        for index in indices:
            if index != keep:
                del submitted.cells[index].metadata["nbgrader"]
                notes.append(f"duplicate nbgrader metadata of {grade_id} removed from cell "
                             f"{index} (kept on cell {keep})")
        if _set(submitted.cells[keep], known[grade_id]):
            notes.append(f"metadata of {grade_id} restored")
    return notes


def repair_metadata(
    submitted: NotebookNode, source: NotebookNode, release: NotebookNode | None = None,
) -> list[str]:
    """Make ``submitted``'s nbgrader metadata the instructor's, in place.

    Every cell holding a ``grade_id`` the source knows gets the source's metadata (points,
    grade, solution, locked...; a copied cell keeps none); metadata the instructor never
    wrote (renamed or invented ``grade_id``, malformed) is removed, so that edited metadata
    can neither change points nor make nbgrader reject the submission. Cells of the source
    that no cell holds any more are looked for with :func:`match_release`.

    Args:
        submitted: the student's notebook (modified).
        source: the instructor's notebook (``solutions/NAME.ipynb``).
        release: the student release (``notebooks/NAME.ipynb``): better for matching
            cells whose metadata is gone, and gives the release's checksums; optional.

    Returns:
        What was repaired, one human-readable line each (``[]``: nothing to repair).

    Raises:
        UnmatchedNotebook: graded cells lost their metadata and the notebook could not be
            matched to the release; its message is the line for the student's row.
    """
    known = _known(source, release)
    notes = _clean(submitted, known)
    held = {_nbgrader(cell).get("grade_id") for cell in submitted.cells
            if isinstance(_nbgrader(cell), dict)}
    if set(known) - held:
        notes += match_release(submitted, source, release)
    return notes


def _text(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _lines(source: str) -> frozenset[str]:
    return frozenset(line.strip() for line in source.splitlines() if line.strip())


def _refs(reference: NotebookNode, known: dict[str, _Known]) -> list[_Ref]:
    by_id = {k.cell_id: grade_id for grade_id, k in known.items() if k.cell_id}
    refs = []
    for cell in reference.cells:
        meta = _nbgrader(cell)
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        grade_id = grade_id if grade_id in known else by_id.get(cell.get("id"))
        refs.append(_Ref(cell.cell_type, cell.get("id"), grade_id, _text(cell.source),
                         _lines(cell.source)))
    return refs


def _score(ref: _Ref, cell: NotebookNode, holds: str | None, held: set[str],
           unique_ids: set[str]) -> float | None:
    """How surely ``cell`` is the reference's cell ``ref``; ``None``: it cannot be."""
    if cell.cell_type != ref.cell_type:
        return None
    if holds is not None or ref.grade_id in held:  # metadata kept: it alone decides
        return _HELD if holds == ref.grade_id else None
    if ref.cell_id and cell.get("id") == ref.cell_id and ref.cell_id in unique_ids:
        return _BY_ID
    if ref.text and _text(cell.source) == ref.text:
        return _SAME
    lines = _lines(cell.source)
    union = ref.lines | lines
    return 0.1 + 0.8 * (len(ref.lines & lines) / len(union) if union else 1.0)


def _align(refs: list[_Ref], cells: list[NotebookNode],
           holds: list[str | None]) -> list[tuple[int, int, float]]:
    """The order-keeping pairing of reference and submitted cells with the highest total
    score (Needleman-Wunsch without gap costs): ``[(ref index, cell index, score)]``."""
    ids = [cell.get("id") for cell in cells]
    unique_ids = {i for i in ids if i and ids.count(i) == 1}
    held = {h for h in holds if h}
    score = [[_score(r, c, h, held, unique_ids) for c, h in zip(cells, holds, strict=True)]
             for r in refs]
    best = [[0.0] * (len(cells) + 1) for _ in range(len(refs) + 1)]
    for i, row in enumerate(score):
        for j, s in enumerate(row):
            diagonal = best[i][j] + s if s is not None else -math.inf
            best[i + 1][j + 1] = max(best[i][j + 1], best[i + 1][j], diagonal)
    pairs, i, j = [], len(refs), len(cells)
    while i and j:
        s = score[i - 1][j - 1]
        if s is not None and best[i][j] == best[i - 1][j - 1] + s:
            pairs.append((i - 1, j - 1, s))
            i, j = i - 1, j - 1
        elif best[i][j] == best[i - 1][j]:
            i -= 1
        else:
            j -= 1
    return pairs[::-1]


def _how(score: float) -> str:
    if score >= _BY_ID:
        return "cell id"
    if score >= _SAME:
        return "identical content"
    return f"position and cell type, similarity {(score - 0.1) / 0.8:.2f}"


def match_release(
    submitted: NotebookNode, source: NotebookNode, release: NotebookNode | None = None,
) -> list[str]:
    """Restore the metadata of graded cells whose nbgrader metadata is gone, in place.

    The release's cells (the source's when no release is given) are paired, in order, with
    the submission's: a cell holding a ``grade_id`` pairs only with that cell; otherwise
    the same cell id counts most, then identical content, then the same cell type with
    similar lines (a solution cell the student filled in). When at least
    :data:`MIN_ANCHORS` of the reference's cells are found by metadata, id or content, each
    source cell with a ``grade_id`` that no cell holds gets the metadata on the cell it is
    paired with (see :func:`repair_metadata` for the arguments).

    Returns:
        One line per cell restored, and per graded cell not found (it scores 0).

    Raises:
        UnmatchedNotebook: no cell holds nbgrader metadata and the notebook could not be
            matched (fewer anchors than :data:`MIN_ANCHORS`).
    """
    known = _known(source, release)
    refs = _refs(release if release is not None else source, known)
    holds = [meta.get("grade_id") if isinstance(meta := _nbgrader(c), dict) else None
             for c in submitted.cells]
    wanted = [g for g in known if g not in holds]
    pairs = _align(refs, submitted.cells, holds)
    anchors = sum(score >= _SAME for _, _, score in pairs)
    if anchors < MIN_ANCHORS * len(refs):
        if not any(holds):
            raise UnmatchedNotebook(f"{UNMATCHED} ({anchors} of {len(refs)} cells match)")
        return [f"nbgrader metadata of {g} missing and no cell matches it with confidence: "
                "it is not graded" for g in wanted]
    notes, found = [], set()
    for i, j, score in pairs:
        if (grade_id := refs[i].grade_id) in wanted and grade_id not in found:
            found.add(grade_id)
            _set(submitted.cells[j], known[grade_id])
            notes.append(f"nbgrader metadata of {grade_id} restored on cell {j} "
                         f"(matched by {_how(score)})")
    notes += [f"no cell matches {g}: it is not graded" for g in wanted if g not in found]
    return notes
