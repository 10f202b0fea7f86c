"""The compositional hierarchy of DLCM (Tang, Yu & Wu, ECCV 2018) as data: levels, children and partners.

Level 1 holds the K joints (in the data set's channel order), level l > 1 holds composite parts, each made of
parts of level l - 1 (its *children*). *Partners* are the left/right pairs of a level (swapped by the flip
test and the flip augmentation); a part without a partner is its own mirror image. All indices are 0-based.

:data:`MPII_HIERARCHY` is the three-level structure of the 16 MPII joints exactly as the authors' public
structure definition lists it (``src/structures/3levels_16joints.lua`` of the Lua Torch code; the derived
``idotc/DLMSCM`` repository keeps the same file), with its 1-based indices shifted to 0-based:

* level 1, 16 joints in MPII / HRNet order (r ankle, r knee, r hip, l hip, l knee, l ankle, pelvis, thorax,
  upper neck, head top, r wrist, r elbow, r shoulder, l shoulder, l elbow, l wrist);
* level 2, 12 parts, each a pair of joints: r lower leg, r upper leg, l upper leg, l lower leg, r hip, l hip,
  neck, head, r lower arm, r upper arm, l upper arm, l lower arm;
* level 3, 6 parts, each a pair of level-2 parts: r leg, l leg, waist, head-neck, r arm, l arm.

:meth:`Hierarchy.check` (run when a hierarchy is built) asserts that the partners of every level are an
involution, that every child index exists, that level 1 is the identity and that the partners commute with
the children (the mirror of a part is made of the mirrors of its children), which is what makes the flip of
the bone-map targets equal to the targets of the flipped joints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["MPII_HIERARCHY", "Hierarchy", "Level", "out_levels"]


@dataclass(frozen=True)
class Level:
    """One level of a hierarchy.

    Attributes:
        names: one name per part (its channel order).
        children: per part, the indices of its children in the level below (``()`` per joint at level 1).
        partners: left/right pairs ``(a, b)`` of this level; parts not listed are their own mirror image.
    """

    names: tuple[str, ...]
    children: tuple[tuple[int, ...], ...]
    partners: tuple[tuple[int, int], ...]

    @property
    def num_parts(self) -> int:
        return len(self.names)

    def permutation(self) -> NDArray[np.int64]:
        """``perm[i]`` = the mirror part of part ``i`` (the channel permutation of a horizontal flip)."""
        perm = np.arange(self.num_parts, dtype=np.int64)
        for a, b in self.partners:
            perm[a], perm[b] = b, a
        return perm


@dataclass(frozen=True)
class Hierarchy:
    """A compositional hierarchy: ``levels[0]`` are the joints, ``levels[l]`` compose ``levels[l - 1]``."""

    levels: tuple[Level, ...]

    def __post_init__(self) -> None:
        self.check()

    @property
    def num_levels(self) -> int:
        return len(self.levels)

    @property
    def num_parts(self) -> tuple[int, ...]:
        """Parts per level, e.g. ``(16, 12, 6)`` for MPII."""
        return tuple(lv.num_parts for lv in self.levels)

    def level(self, number: int) -> Level:
        """The level with the paper's 1-based ``number`` (1 = joints)."""
        if not 1 <= number <= self.num_levels:
            raise ValueError(f"level must be in 1..{self.num_levels}, got {number}")
        return self.levels[number - 1]

    def joints_of(self, number: int, part: int) -> tuple[int, ...]:
        """The sorted joint indices a part of level ``number`` covers (its leaves)."""
        nodes = {part}
        for lv in range(number, 1, -1):
            nodes = {c for n in nodes for c in self.levels[lv - 1].children[n]}
        return tuple(sorted(nodes))

    def segments(self, number: int) -> tuple[tuple[tuple[int, int], ...], ...]:
        """Per part of level ``number`` >= 2, the joint pairs ``(a, b)`` whose segments make its bone map
        (one pair at level 2; the union of its children's segments above)."""
        if number < 2:
            raise ValueError(f"segments exist from level 2 on, got level {number}")
        lv2 = self.levels[1]
        segs: list[tuple[tuple[int, int], ...]] = [((c[0], c[1]),) for c in lv2.children]
        for lv in range(3, number + 1):
            segs = [tuple(s for c in self.levels[lv - 1].children[p] for s in segs[c])
                    for p in range(self.levels[lv - 1].num_parts)]  # fmt: skip
        return tuple(segs)

    def check(self) -> None:
        """Raise ValueError naming the level and part when the hierarchy is inconsistent (see module doc)."""
        if not self.levels:
            raise ValueError("a hierarchy needs at least the joint level")
        for number, lv in enumerate(self.levels, start=1):
            n = lv.num_parts
            if n < 1 or len(lv.children) != n:
                raise ValueError(f"level {number}: {n} names but {len(lv.children)} children entries")
            seen: set[int] = set()
            for a, b in lv.partners:
                if not (0 <= a < n and 0 <= b < n) or a == b or a in seen or b in seen:
                    raise ValueError(f"level {number}: partners {(a, b)} are not a valid disjoint pair")
                seen.update((a, b))
            perm = lv.permutation()
            if not np.array_equal(perm[perm], np.arange(n)):  # pragma: no cover - implied by the pair checks
                raise ValueError(f"level {number}: partners are not an involution")
            if number == 1:
                if any(c != () for c in lv.children):
                    raise ValueError("level 1 (joints) has no children")
                continue
            below = self.levels[number - 2]
            for p, ch in enumerate(lv.children):
                if len(ch) < 1 or any(not 0 <= c < below.num_parts for c in ch) or len(set(ch)) != len(ch):
                    raise ValueError(f"level {number} part {p} ({lv.names[p]}): invalid children {ch}")
                if number == 2 and len(ch) != 2:
                    raise ValueError(
                        f"level 2 part {p} ({lv.names[p]}): a bone needs exactly 2 joints, got {ch}"
                    )
            below_perm = below.permutation()
            for p, ch in enumerate(lv.children):
                mirrored = {int(below_perm[c]) for c in ch}
                if mirrored != set(lv.children[int(perm[p])]):
                    raise ValueError(
                        f"level {number} part {p} ({lv.names[p]}): the mirrors of its children {sorted(mirrored)} "
                        f"are not the children of its partner {int(perm[p])}"
                    )


def out_levels(num_levels: int) -> tuple[int, ...]:
    """The level each DLCM stack predicts: bottom-up ``1 .. L``, then top-down ``L-1 .. 1``
    (``(1, 2, 3, 2, 1)`` for three levels; the authors' ``opt.outLevels``)."""
    if num_levels < 1:
        raise ValueError(f"num_levels must be >= 1, got {num_levels}")
    return tuple(range(1, num_levels + 1)) + tuple(range(num_levels - 1, 0, -1))


def _level(
    names: Sequence[str], children: Sequence[Sequence[int]], partners: Sequence[Sequence[int]]
) -> Level:
    return Level(
        tuple(names), tuple(tuple(c) for c in children), tuple((int(a), int(b)) for a, b in partners)
    )


# fmt: off
MPII_HIERARCHY = Hierarchy(
    levels=(
        _level(
            ("r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax", "upper_neck",
             "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist"),
            [()] * 16,
            [(0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13)],
        ),
        _level(
            ("r_lower_leg", "r_upper_leg", "l_upper_leg", "l_lower_leg", "r_hip", "l_hip", "neck", "head",
             "r_lower_arm", "r_upper_arm", "l_upper_arm", "l_lower_arm"),
            [(0, 1), (1, 2), (3, 4), (4, 5), (2, 6), (3, 6), (7, 8), (8, 9), (10, 11), (11, 12), (13, 14),
             (14, 15)],
            [(0, 3), (1, 2), (4, 5), (8, 11), (9, 10)],
        ),
        _level(
            ("r_leg", "l_leg", "waist", "head_neck", "r_arm", "l_arm"),
            [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11)],
            [(0, 1), (4, 5)],
        ),
    )
)
# fmt: on
"""The authors' ``3levels_16joints`` structure, 0-based (see the module docstring)."""
