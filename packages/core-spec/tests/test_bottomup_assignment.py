"""The Hungarian step: optimal, and on ties the same choice as the munkres package pose-ae-train uses."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from enhancenet_core.bottomup import AssignmentSolver, min_cost_assignment


def _brute_force_cost(c: np.ndarray) -> float:
    r, n = c.shape
    return min(sum(c[i, p[i]] for i in range(r)) for p in itertools.permutations(range(n), r))


@pytest.mark.parametrize("solver", list(AssignmentSolver))
def test_optimal_on_random_and_tied_matrices(solver):
    rng = np.random.default_rng(0)
    for t in range(60):
        r = int(rng.integers(1, 5))
        c = int(rng.integers(r, 6))
        cost = rng.integers(0, 3, (r, c)).astype(float) if t % 2 else rng.random((r, c))
        pairs = min_cost_assignment(cost, solver)
        assert pairs[:, 0].tolist() == list(range(r))  # every row, sorted
        assert len(set(pairs[:, 1].tolist())) == r
        assert cost[pairs[:, 0], pairs[:, 1]].sum() == pytest.approx(_brute_force_cost(cost))


# Tie cases: the expected pairs were produced by munkres 1.0.12 and 1.1.4 (``Munkres().compute``), the package
# pose-ae-train calls (costs in its form: round(distance)·100 - detection value).
MUNKRES_TIES = [
    (
        [[-1.0, -1.0, -1.0], [99.5, -1.0, -1.0], [-1.0, -1.0, 99.5]],
        [[0, 2], [1, 1], [2, 0]],
        [[0, 0], [1, 2], [2, 1]],
    ),
    (
        [[-0.5, -1.0, -1.0], [-0.5, 99.0, -1.0], [99.5, 99.0, 99.5]],
        [[0, 0], [1, 2], [2, 1]],
        [[0, 1], [1, 2], [2, 0]],
    ),
    (
        [[-1.0, 99.5, -0.5], [-1.0, 99.0, 99.0], [99.5, 99.0, -0.5]],
        [[0, 0], [1, 1], [2, 2]],
        [[0, 2], [1, 0], [2, 1]],
    ),
    ([[-1.0, -1.0], [-1.0, -1.0]], [[0, 0], [1, 1]], None),
]


@pytest.mark.parametrize(("cost", "munkres_pairs", "scipy_pairs"), MUNKRES_TIES)
def test_ties_follow_munkres_and_scipy_may_differ(cost, munkres_pairs, scipy_pairs):
    assert min_cost_assignment(cost, AssignmentSolver.MUNKRES).tolist() == munkres_pairs
    if scipy_pairs is not None:
        # the documented difference: SciPy returns another assignment of the same (optimal) cost
        got = min_cost_assignment(cost, AssignmentSolver.SCIPY)
        assert got.tolist() == scipy_pairs
        c = np.asarray(cost)
        assert c[got[:, 0], got[:, 1]].sum() == c[tuple(np.array(munkres_pairs).T)].sum()


def test_more_columns_than_rows_and_empty():
    cost = np.array([[5.0, 1.0, 3.0]])
    assert min_cost_assignment(cost).tolist() == [[0, 1]]
    assert min_cost_assignment(np.zeros((0, 3))).shape == (0, 2)


def test_bad_cost():
    with pytest.raises(ValueError, match="cost must be a finite 2-D matrix"):
        min_cost_assignment([[np.nan]])
    with pytest.raises(ValueError, match="cost must be a finite 2-D matrix"):
        min_cost_assignment([1.0, 2.0], AssignmentSolver.SCIPY)
