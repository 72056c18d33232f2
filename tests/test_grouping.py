"""The grouping helpers the monthly step uses (sim.agents), against naive mask loops."""

from __future__ import annotations

import numpy as np
import pytest

from sim.agents import group_cumsum, group_sums, stable_order


@pytest.mark.parametrize("n_groups", [1, 3, 300, 70_000])
def test_grouping_helpers_match_masks(n_groups):
    rng = np.random.default_rng(n_groups)
    groups = rng.integers(0, n_groups, 2_000)
    values = rng.lognormal(10.0, 2.0, groups.size)
    order = stable_order(groups)
    np.testing.assert_array_equal(order, np.lexsort((np.arange(groups.size), groups)))
    sums = group_sums(values, groups, n_groups)
    expected = np.array([values[groups == j].sum() for j in range(n_groups)])
    np.testing.assert_array_equal(sums, expected)  # bitwise: the same pairwise sums
    running = group_cumsum(values, groups)
    for j in np.unique(groups)[:50]:
        np.testing.assert_allclose(running[groups == j], np.cumsum(values[groups == j]))


def test_grouping_helpers_on_empty_input():
    empty = np.zeros(0, np.int64)
    assert stable_order(empty).size == 0
    np.testing.assert_array_equal(group_sums(np.zeros(0), empty, 3), np.zeros(3))
    assert group_cumsum(np.zeros(0), empty).size == 0
