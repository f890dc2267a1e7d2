"""Packing the harness mutants: mistakes meeting in a later exercise never share a submission."""

from __future__ import annotations

from mbrl_helpers.grading.mutants import Mutant, pack, reach_cells

from .conftest import ROOT


def _mutant(name: str, cell: str, fails: set[str]) -> Mutant:
    return Mutant(name, {cell: ("pass", False)}, set(fails))


def test_mistakes_meeting_in_a_later_exercise_are_graded_apart():
    # select_child's mistake alone costs only its own test; backup's costs the search too. In one
    # submission the first could undo the second's effect on the search (seen in notebook 03).
    sel = _mutant("sel", "select_child", {"t_select"})
    back = _mutant("back", "backup", {"t_backup", "t_search"})
    own = {"select_child": {"t_select"}, "backup": {"t_backup"}, "search": {"t_search"}}
    assert len(pack([sel, back], own)) == 1  # their own tests alone do not keep them apart
    reach = {**own, "select_child": {"t_select", "t_search"}, "backup": {"t_backup", "t_search"}}
    assert len(pack([sel, back], reach)) == 2


def test_reach_adds_the_cells_of_exercises_that_build_on_one():
    reach = reach_cells(ROOT, "03_mcts")
    assert "test_mcts_search_optimal" in reach["select_child"]
    assert "test_select_child_hidden" in reach["select_child"]
