"""The Associative Embedding grouping parser, with pose-ae-train's semantics (``utils/group.py``, ``test.py``).

Dimensions: keypoint number K, detection map ``(W, H)``, tag map ``(w, h)`` with ``W = r·w``, ``H = r·h``
(r = 1: the base model's maps; r > 1: EnhanceNet's M^HR with 128 × 128 tags), tag dimension T (2 at test time
in pose-ae-train: the tags of the image and of its flipped copy). Maps are processed in float32.

One image, :func:`group`:

1. detections clipped at :attr:`GroupingParams.clip_detections_at` (``test.py``: ``np.minimum(dets, 1)``);
2. candidates per joint: max-pool NMS and top-k (:mod:`~enhancenet_core.bottomup.candidates`); a candidate is
   (x = column, y = row, value, its tag read by :class:`TagReading`);
3. matching joint by joint in :attr:`GroupingParams.joint_order` (pose-ae-train's COCO order: nose, eyes, ears,
   shoulders, hips, elbows, wrists, knees, ankles), using only candidates with value > ``detection_threshold``:

   * the first joint type (or any while nobody exists) makes one person per candidate;
   * otherwise, with the first ``max_num_people`` persons (creation order) and their mean tags (float32 mean of
     the tags of the joints matched so far): the distance is the RMS over T; the cost is
     ``round(distance)·100 - value`` (``use_detection_val``; else the distance); more candidates than persons
     pads the cost with 1e10 columns; the Hungarian step (:mod:`~enhancenet_core.bottomup.assignment`) pairs
     each candidate; a pair with a real person and distance < ``tag_threshold`` joins that person, any other
     candidate starts a new person;
   * ``ignore_too_much``: once ``max_num_people`` persons exist, the remaining joint types are skipped. The
     number of people can still exceed ``max_num_people`` (a step may open several new persons);
   * persons are keyed by the first component of their first tag (:class:`PersonKeying`): with ``TAG_VALUE``
     (pose-ae-train's dict) a new person whose key equals an existing one's is merged into it (its joint is
     overwritten and its tag list restarts); ``PER_CANDIDATE`` gives every new candidate its own person;
4. the quarter-pixel ``adjust`` (:mod:`~enhancenet_core.bottomup.refine`), if enabled;
5. person score = mean of the K detection values (missing joints count 0), before refine;
6. ``refine`` of missing joints (:class:`RefineMode`).

The result's people are in creation order, ``(P, K, 3 + T)`` float32 (x, y, value, tag...) in detection-map
pixels: pixel index + 0.5 (± 0.25 when adjusted); to input pixels multiply by ``input_size / map_size`` (4 for
pose-ae-train's 128 maps of a 512 input, 1 for M^HR at 512). Missing joints are all 0.

Bad input: a map with NaN or infinity, tags whose K or size does not fit the detections (sizes must be
integer multiples with one r), or a wrong number of axes raise a one-line ``ValueError`` naming the array. An
image with no candidate above the threshold gives zero people (``(0, K, 3 + T)``), not an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from enhancenet_core.bottomup.assignment import AssignmentSolver, min_cost_assignment
from enhancenet_core.bottomup.candidates import TagReading, nms, sample_tags, top_k
from enhancenet_core.bottomup.refine import RefineMode, adjust, refine
from enhancenet_core.conventions import PersonKeying

__all__ = [
    "COCO_AE_JOINT_ORDER",
    "Grouping",
    "GroupingParams",
    "PersonKeying",
    "check_maps",
    "group",
    "group_batch",
    "match_by_tag",
]

COCO_AE_JOINT_ORDER = (0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9, 10, 13, 14, 15, 16)
"""pose-ae-train's ``partOrder`` (COCO indices)."""



@dataclass(frozen=True)
class GroupingParams:
    """Parser settings; the defaults are what pose-ae-train's ``test.py`` runs.

    Attributes:
        detection_threshold: candidates need a value > this (``HeatmapParser(detection_val=0.1)`` in
            ``test.py``; the class default is 0.03, ``Params`` 0.2).
        tag_threshold: a candidate joins a person only at tag distance < this.
        max_num_people: persons considered for matching (and the ``ignore_too_much`` limit).
        top_k: candidates per joint after NMS (pose-ae-train: ``max_num_people``).
        nms_kernel: odd window of the max-pool NMS.
        use_detection_val: cost ``round(distance)·100 - value`` (True) or the plain distance.
        ignore_too_much: skip the remaining joint types once ``max_num_people`` persons exist.
        clip_detections_at: detections are clipped at this value first (None: no clipping).
        adjust: apply the quarter-pixel adjustment.
        refine: :class:`RefineMode`.
        solver: :class:`AssignmentSolver` of the Hungarian step.
        tag_reading: :class:`TagReading` when the detection map is r > 1 times the tag map.
        keying: :class:`PersonKeying`.
        joint_order: the matching order; None: :data:`COCO_AE_JOINT_ORDER` for K = 17, else 0..K-1.
    """

    detection_threshold: float = 0.1
    tag_threshold: float = 1.0
    max_num_people: int = 30
    top_k: int = 30
    nms_kernel: int = 3
    use_detection_val: bool = True
    ignore_too_much: bool = True
    clip_detections_at: float | None = 1.0
    adjust: bool = True
    refine: RefineMode = RefineMode.CORRECTED
    solver: AssignmentSolver = AssignmentSolver.MUNKRES
    tag_reading: TagReading = TagReading.NEAREST
    keying: PersonKeying = PersonKeying.TAG_VALUE
    joint_order: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("detection_threshold", "tag_threshold"):
            v = getattr(self, name)
            if isinstance(v, bool) or not np.isfinite(v):
                raise ValueError(f"GroupingParams.{name} must be a finite number, got {v!r}")
        for name in ("max_num_people", "top_k", "nms_kernel"):
            v = getattr(self, name)
            if isinstance(v, bool) or int(v) != v or v < 1:
                raise ValueError(f"GroupingParams.{name} must be a positive integer, got {v!r}")
        if self.nms_kernel % 2 == 0:
            raise ValueError(f"GroupingParams.nms_kernel must be odd, got {self.nms_kernel}")
        c = self.clip_detections_at
        if c is not None and (isinstance(c, bool) or not np.isfinite(c)):
            raise ValueError(f"GroupingParams.clip_detections_at must be a finite number or None, got {c!r}")
        object.__setattr__(self, "refine", RefineMode(self.refine))
        object.__setattr__(self, "solver", AssignmentSolver(self.solver))
        object.__setattr__(self, "tag_reading", TagReading(self.tag_reading))
        object.__setattr__(self, "keying", PersonKeying(self.keying))
        if self.joint_order is not None:
            order = tuple(int(k) for k in self.joint_order)
            if sorted(order) != list(range(len(order))):
                raise ValueError(f"GroupingParams.joint_order must be a permutation of 0..K-1, got {order}")
            object.__setattr__(self, "joint_order", order)

    def order_for(self, num_keypoints: int) -> tuple[int, ...]:
        """The matching order for K keypoints."""
        if self.joint_order is not None:
            if len(self.joint_order) != num_keypoints:
                raise ValueError(
                    f"GroupingParams.joint_order has {len(self.joint_order)} joints, the maps have {num_keypoints}"
                )
            return self.joint_order
        return COCO_AE_JOINT_ORDER if num_keypoints == 17 else tuple(range(num_keypoints))


class Grouping(NamedTuple):
    """People of one image: ``people`` ``(P, K, 3 + T)`` float32 (x, y, value, tag...), ``scores`` ``(P,)``."""

    people: NDArray[np.float32]
    scores: NDArray[np.float64]


def check_maps(det: ArrayLike, tag: ArrayLike) -> tuple[NDArray[np.float32], NDArray[np.float32], int]:
    """Validate one image's maps: ``det`` ``(K, H, W)``, ``tag`` ``(K, h, w)`` or ``(K, h, w, T)``.

    Returns float32 ``det``, float32 ``tag`` ``(K, h, w, T)`` and r.
    """
    d = np.asarray(det, dtype=np.float32)
    t = np.asarray(tag, dtype=np.float32)
    if d.ndim != 3 or min(d.shape) < 1:
        raise ValueError(f"det must have shape (K, H, W), got {np.shape(det)}")
    if t.ndim == 3:
        t = t[..., None]
    if t.ndim != 4 or min(t.shape) < 1:
        raise ValueError(f"tag must have shape (K, h, w) or (K, h, w, T), got {np.shape(tag)}")
    nk, hh, ww = d.shape
    if t.shape[0] != nk:
        raise ValueError(f"tag has {t.shape[0]} joints, det has {nk}")
    h, w = t.shape[1:3]
    if hh % h or ww % w or hh // h != ww // w:
        raise ValueError(f"tag map {h}x{w} (HxW) does not divide det map {hh}x{ww} by one integer factor r")
    if not np.all(np.isfinite(d)):
        raise ValueError("det contains NaN or infinite values")
    if not np.all(np.isfinite(t)):
        raise ValueError("tag contains NaN or infinite values")
    return d, t, hh // h


def match_by_tag(locs: NDArray, vals: NDArray, tags: NDArray, params: GroupingParams) -> NDArray[np.float32]:
    """Step 3 of the module docstring on the candidates of one image.

    Args:
        locs: ``(K, n, 2)`` candidate pixels (x, y).
        vals: ``(K, n)`` candidate values, largest first.
        tags: ``(K, n, T)`` float32 candidate tags.
        params: :class:`GroupingParams`.

    Returns:
        ``(P, K, 3 + T)`` float32 people in creation order.
    """
    nk, _, tdim = tags.shape
    joints = np.concatenate([locs.astype(np.float64), vals[..., None].astype(np.float64), tags], axis=2)
    rows: list[NDArray] = []  # per person (K, 3 + T) float64
    tag_sum: list[NDArray] = []  # per person (T,) float32, summed in matching order
    count: list[int] = []
    keys: dict[float, int] = {}
    by_key = params.keying is PersonKeying.TAG_VALUE

    def new_person(k: int, joint: NDArray, tag: NDArray) -> None:
        key = float(tag[0])
        p = keys.get(key) if by_key else None
        if p is None:
            p = len(rows)
            keys.setdefault(key, p)
            rows.append(np.zeros((nk, 3 + tdim)))
            tag_sum.append(tag)
            count.append(1)
        else:
            tag_sum[p], count[p] = tag, 1
        rows[p][k] = joint

    for step, k in enumerate(params.order_for(nk)):
        sel = vals[k] > params.detection_threshold
        cand, ctag = joints[k][sel], tags[k][sel]
        if step == 0 or not rows:
            for joint, tag in zip(cand, ctag, strict=True):
                new_person(k, joint, tag)
            continue
        n_act = min(len(rows), params.max_num_people)
        if params.ignore_too_much and n_act == params.max_num_people:
            continue
        if cand.shape[0] == 0:
            continue
        mean = np.stack(tag_sum[:n_act]) / np.asarray(count[:n_act], np.float32)[:, None]  # float32
        dist = ((cand[:, None, 3:] - mean[None].astype(np.float64)) ** 2).mean(axis=2) ** 0.5
        cost = np.round(dist) * 100 - cand[:, 2:3] if params.use_detection_val else dist.copy()
        if cost.shape[0] > cost.shape[1]:
            cost = np.concatenate(
                [cost, np.full((cost.shape[0], cost.shape[0] - cost.shape[1]), 1e10)], axis=1
            )
        for row, col in min_cost_assignment(cost, params.solver):
            if col < n_act and dist[row, col] < params.tag_threshold:
                rows[col][k] = cand[row]
                tag_sum[col] = tag_sum[col] + ctag[row]
                count[col] += 1
            else:
                new_person(k, cand[row], ctag[row])
    if not rows:
        return np.zeros((0, nk, 3 + tdim), np.float32)
    return np.stack(rows).astype(np.float32)


def group(det: ArrayLike, tag: ArrayLike, params: GroupingParams | None = None) -> Grouping:
    """Group one image's detections into people (module docstring).

    Args:
        det: ``(K, H, W)`` detection maps.
        tag: ``(K, h, w)`` or ``(K, h, w, T)`` tag maps, ``H = r·h``, ``W = r·w``.
        params: :class:`GroupingParams` (default: pose-ae-train's test settings).
    """
    params = GroupingParams() if params is None else params
    d, t, r = check_maps(det, tag)
    if params.clip_detections_at is not None:
        d = np.minimum(d, np.float32(params.clip_detections_at))
    vals, idx = top_k(nms(d, params.nms_kernel), params.top_k)
    ww = d.shape[2]
    xs, ys = idx % ww, idx // ww
    ctag = sample_tags(t, xs, ys, r, params.tag_reading)
    people = match_by_tag(np.stack([xs, ys], axis=-1), vals, ctag, params)
    if params.adjust:
        people = adjust(people, d)
    scores = people[:, :, 2].astype(np.float64).mean(axis=1)
    people = refine(people, d, t, params.refine, params.tag_reading)
    return Grouping(people.astype(np.float32), scores)


def group_batch(det: ArrayLike, tag: ArrayLike, params: GroupingParams | None = None) -> list[Grouping]:
    """:func:`group` for each image of ``det`` ``(N, K, H, W)`` and ``tag`` ``(N, K, h, w[, T])``."""
    d = np.asarray(det)
    t = np.asarray(tag)
    if d.ndim != 4:
        raise ValueError(f"det must have shape (N, K, H, W), got {d.shape}")
    if t.ndim not in (4, 5) or t.shape[0] != d.shape[0]:
        raise ValueError(f"tag must have shape (N, K, h, w[, T]) with N = {d.shape[0]}, got {t.shape}")
    return [group(d[i], t[i], params) for i in range(d.shape[0])]
