"""The Hungarian step of the grouping: minimum-cost assignment of candidates (rows) to persons (columns).

Two solvers, both exact minimisers; they differ only in *which* optimal assignment they return when several
have the same cost (ties: equal detection values at the same rounded tag distance, e.g. peaks clipped at 1):

* :attr:`AssignmentSolver.MUNKRES` (default) returns the assignment the ``munkres`` package returns
  (versions 1.0.11 to 1.1.4 run the same algorithm; 1.0.10 and older scan for zeros differently), which
  pose-ae-train calls. It is the same sequence of steps, written over NumPy arrays: pad to a square with
  zeros; subtract row minima; star zeros row by row; cover starred columns; prime uncovered zeros, searching
  from the previous prime's row and the column of the star in its row, and taking the *last* zero of the
  first row that has one (the package's ``__find_a_zero`` scans the whole row); augment along the
  star/prime path; add the smallest uncovered value to covered rows and subtract it from uncovered columns,
  in that order (the same float64 operations, so the same zeros appear).
* :attr:`AssignmentSolver.SCIPY`: :func:`scipy.optimize.linear_sum_assignment` (faster on large matrices;
  on ties it may pick a different optimal assignment, see ``tests/test_bottomup_assignment.py``).

Both return the pairs ``(row, column)`` for every row when there are at least as many columns as rows, sorted
by row, as ``munkres`` does.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import linear_sum_assignment

from enhancenet_core.conventions import AssignmentSolver

__all__ = ["AssignmentSolver", "min_cost_assignment", "munkres_assignment"]



def _find_zero(zero: NDArray[np.bool_], i0: int, j0: int) -> tuple[int, int]:
    """munkres's ``__find_a_zero``: the first row from ``i0`` (wrapping) with an uncovered zero, and in it the
    *last* such zero scanning the columns from ``j0`` (wrapping). ``(-1, -1)`` when there is none."""
    rows = np.flatnonzero(zero.any(axis=1))
    if rows.size == 0:
        return -1, -1
    n = zero.shape[0]
    i = int(rows[np.argmin((rows - i0) % n)])
    cols = np.flatnonzero(zero[i])
    return i, int(cols[np.argmax((cols - j0) % n)])


def munkres_assignment(cost: ArrayLike) -> NDArray[np.int64]:
    """``munkres.Munkres().compute(cost)`` over NumPy arrays (same steps, same tie choices).

    Args:
        cost: ``(R, C)`` finite costs.

    Returns:
        ``(M, 2)`` int64 pairs ``(row, column)`` with row < R and column < C, sorted by row.
    """
    c0 = np.asarray(cost, dtype=np.float64)
    if c0.ndim != 2 or not np.all(np.isfinite(c0)):
        raise ValueError(f"cost must be a finite 2-D matrix, got shape {c0.shape}")
    r, c = c0.shape
    if r == 0 or c == 0:
        return np.zeros((0, 2), np.int64)
    n = max(r, c)
    cm = np.zeros((n, n))
    cm[:r, :c] = c0
    cm -= cm.min(axis=1, keepdims=True)  # step 1
    marked = np.zeros((n, n), np.int8)  # 1 star, 2 prime
    col_cov = np.zeros(n, bool)
    for i in range(n):  # step 2
        js = np.flatnonzero((cm[i] == 0) & ~col_cov)
        if js.size:
            marked[i, js[0]] = 1
            col_cov[js[0]] = True
    row_cov = np.zeros(n, bool)
    while True:
        col_cov = (marked == 1).any(axis=0)  # step 3 (covers are clear here)
        if col_cov.sum() >= n:
            break
        row_cov[:] = False
        row = col = 0
        while True:  # steps 4 and 6
            zero = (cm == 0) & ~row_cov[:, None] & ~col_cov[None, :]
            row, col = _find_zero(zero, row, col)
            if row < 0:  # step 6
                m = cm[~row_cov][:, ~col_cov].min()
                cm[row_cov, :] += m
                cm[:, ~col_cov] -= m
                row = col = 0
                continue
            marked[row, col] = 2
            stars = np.flatnonzero(marked[row] == 1)
            if stars.size == 0:
                break
            col = int(stars[0])
            row_cov[row] = True
            col_cov[col] = False
        path = [(row, col)]  # step 5
        while True:
            srow = np.flatnonzero(marked[:, path[-1][1]] == 1)
            if srow.size == 0:
                break
            pr = int(srow[0])
            path.append((pr, path[-1][1]))
            path.append((pr, int(np.flatnonzero(marked[pr] == 2)[0])))
        for pi, pj in path:
            marked[pi, pj] = 0 if marked[pi, pj] == 1 else 1
        marked[marked == 2] = 0
        row_cov[:] = False
    pairs = np.argwhere(marked[:r, :c] == 1)
    return pairs.astype(np.int64)


def min_cost_assignment(
    cost: ArrayLike, solver: AssignmentSolver = AssignmentSolver.MUNKRES
) -> NDArray[np.int64]:
    """Minimum-cost pairs ``(row, column)`` of ``cost`` ``(R, C)``, sorted by row (see the module docstring)."""
    solver = AssignmentSolver(solver)
    if solver is AssignmentSolver.MUNKRES:
        return munkres_assignment(cost)
    c0 = np.asarray(cost, dtype=np.float64)
    if c0.ndim != 2 or not np.all(np.isfinite(c0)):
        raise ValueError(f"cost must be a finite 2-D matrix, got shape {c0.shape}")
    rows, cols = linear_sum_assignment(c0)
    return np.stack([rows, cols], axis=1).astype(np.int64)
