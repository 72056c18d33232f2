"""Sums and running sums by group over the SME columns, in a fixed order (so that the
results equal those of a mask-per-group loop, to the last digit)."""

from __future__ import annotations

import numpy as np


def stable_order(labels: np.ndarray) -> np.ndarray:
    """Indices that sort small non-negative integer ``labels``, ties in original order.

    The labels are cast to the narrowest integer type first: numpy's stable sort of
    such a type is a radix sort, much faster than a comparison sort.
    """
    if labels.size == 0:
        return np.zeros(0, np.intp)
    return np.argsort(labels.astype(np.min_scalar_type(labels.max())), kind="stable")


def group_sums(values: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    """Sum of ``values`` in each group ``0..n-1``.

    Each group is summed as numpy sums the subset ``values[groups == j]`` (pairwise, in
    the original order), so the result is the same as that mask-per-group loop.
    """
    order = stable_order(groups)
    bounds = np.searchsorted(groups[order], np.arange(n + 1))
    v = values[order]
    return np.array([v[bounds[j] : bounds[j + 1]].sum() for j in range(n)])


def group_cumsum(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Running sum of ``values`` within each group, in the original order.

    ``groups`` holds small non-negative integers (group labels).
    """
    if values.size == 0:
        return values.astype(float)
    order = stable_order(groups)
    v = values[order].astype(float)
    g = groups[order]
    cs = np.cumsum(v)
    start = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    offset = np.repeat(cs[start] - v[start], np.diff(np.r_[start, g.size]))
    out = np.empty_like(cs)
    out[order] = cs - offset
    return out
