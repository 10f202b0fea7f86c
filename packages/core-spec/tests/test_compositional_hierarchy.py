"""DLCM hierarchy: the MPII structure equals the authors' listing, and the self-checks catch broken data."""

from __future__ import annotations

import numpy as np
import pytest

from enhancenet_core.compositional import MPII_HIERARCHY, Hierarchy, Level, out_levels
from enhancenet_core.datasets import dataset_info

# The authors' 3levels_16joints listing, typed here 1-based as it is printed there.
LUA_LEVEL2_CHILDREN = [(1, 2), (2, 3), (4, 5), (5, 6), (3, 7), (4, 7), (8, 9), (9, 10), (11, 12), (12, 13),
                       (14, 15), (15, 16)]  # fmt: skip
LUA_LEVEL3_CHILDREN = [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12)]
LUA_PARTNERS = [
    [(1, 6), (2, 5), (3, 4), (11, 16), (12, 15), (13, 14)],
    [(1, 4), (2, 3), (5, 6), (9, 12), (10, 11)],
    [(1, 2), (5, 6)],
]


def _zero_based(pairs):
    return [(a - 1, b - 1) for a, b in pairs]


def test_mpii_levels_match_the_authors_listing():
    h = MPII_HIERARCHY
    assert h.num_parts == (16, 12, 6)
    assert list(h.levels[1].children) == _zero_based(LUA_LEVEL2_CHILDREN)
    assert list(h.levels[2].children) == _zero_based(LUA_LEVEL3_CHILDREN)
    for lv, pairs in enumerate(LUA_PARTNERS):
        assert list(h.levels[lv].partners) == _zero_based(pairs)


def test_level_one_is_the_mpii_row():
    info = dataset_info("mpii")
    assert MPII_HIERARCHY.levels[0].names == tuple(info.keypoint_names)
    assert {tuple(sorted(p)) for p in MPII_HIERARCHY.levels[0].partners} == {
        tuple(sorted(p)) for p in info.flip_pairs
    }


def test_partners_are_involutions_and_children_valid():
    h = MPII_HIERARCHY
    for number, lv in enumerate(h.levels, start=1):
        perm = lv.permutation()
        np.testing.assert_array_equal(perm[perm], np.arange(lv.num_parts))
        assert sorted(perm) == list(range(lv.num_parts))
        if number > 1:
            below = h.levels[number - 2].num_parts
            assert all(0 <= c < below for ch in lv.children for c in ch)


def test_level_three_points():
    expected = {  # r leg, l leg, waist, head-neck, r arm, l arm as MPII joint indices
        0: (0, 1, 2), 1: (3, 4, 5), 2: (2, 3, 6), 3: (7, 8, 9), 4: (10, 11, 12), 5: (13, 14, 15),
    }  # fmt: skip
    for part, joints in expected.items():
        assert MPII_HIERARCHY.joints_of(3, part) == joints
    assert MPII_HIERARCHY.segments(3)[2] == ((2, 6), (3, 6))  # waist: r hip and l hip segments
    assert MPII_HIERARCHY.joints_of(2, 7) == (8, 9)  # head: upper neck - head top


def test_out_levels():
    assert out_levels(3) == (1, 2, 3, 2, 1)
    assert out_levels(1) == (1,)
    with pytest.raises(ValueError):
        out_levels(0)


def _levels(level2_partners=((0, 1),), level2_children=((0, 1), (2, 3)), joint_partners=((0, 2), (1, 3))):
    return (
        Level(("a", "b", "c", "d"), ((),) * 4, tuple(joint_partners)),
        Level(("ab", "cd"), tuple(level2_children), tuple(level2_partners)),
    )


def test_a_consistent_small_hierarchy_builds():
    h = Hierarchy(_levels())
    assert h.num_parts == (4, 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"joint_partners": ((0, 4), (1, 3))}, "not a valid disjoint pair"),
        ({"joint_partners": ((0, 2), (2, 3))}, "not a valid disjoint pair"),
        ({"joint_partners": ((0, 0),)}, "not a valid disjoint pair"),
        ({"level2_children": ((0, 1), (2, 7))}, "invalid children"),
        ({"level2_children": ((0, 1, 2), (2, 3))}, "exactly 2 joints"),
        ({"level2_partners": ()}, "are not the children of its partner"),  # mirrors of ab are cd
    ],
)
def test_inconsistent_hierarchies_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Hierarchy(_levels(**kwargs))


def test_wrong_mpii_partner_is_rejected():
    lv = MPII_HIERARCHY.levels
    bad = Level(lv[1].names, lv[1].children, ((0, 2), (1, 3), (4, 5), (8, 11), (9, 10)))
    with pytest.raises(ValueError, match="level 2 part 0"):
        Hierarchy((lv[0], bad, lv[2]))


def test_level_lookup():
    assert MPII_HIERARCHY.level(3).names[3] == "head_neck"
    with pytest.raises(ValueError):
        MPII_HIERARCHY.level(4)
