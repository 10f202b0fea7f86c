"""Named conventions shared by every module of the spec.

Each choice that changes numbers is an enum, never a boolean whose meaning must be remembered.
The values are the strings used in config files.
"""

from __future__ import annotations

from enum import Enum


class CoordinateConvention(str, Enum):
    """How input-patch, low-resolution and high-resolution heat-map grids align.

    LEGACY: what the HRNet / SimpleBaseline code the paper used does (``x_hm = x_in / stride``,
        Gaussian centred on the integer pixel ``int(x_hm + 0.5)``, decoded back by ``x_in = x_hm * stride``).
    UNBIASED: pixel-centre aligned (UDP-style), sub-pixel Gaussian centres; encode then decode is the identity.
    DARKPOSE: what the DarkPose code (``ilovepose/DarkPose``) does: the image is cropped to the patch *and* to the
        heat map by its own affine (grid centre ``((W - 1)/2, (H - 1)/2)`` <-> crop centre, zoom
        ``(W - 1)/(w·pixel_std - 1)`` from the widths alone), sub-pixel Gaussian centres, no flip-test shift. Patch
        and heat map are then centre-aligned with one stride ``(W_in - 1)/(W_hm - 1)`` on both axes (UNBIASED's on
        x; on y an offset when ``(H - 1)/(W - 1)`` differs between the grids). Only this convention changes the
        image <-> patch affine (:mod:`enhancenet_core.transforms`); LEGACY and UNBIASED use HRNet's.
    See :mod:`enhancenet_core.coordinates` for the exact formulas.
    """

    LEGACY = "legacy"
    UNBIASED = "unbiased"
    DARKPOSE = "darkpose"


class ShuffleOrder(str, Enum):
    """Channel order of the tensor that the periodic shuffle (PS) rearranges.

    PAPER: Eq. 5 of the paper, channel ``K*r*mod(y, r) + K*mod(x, r) + k``.
    FRAMEWORK: ``torch.nn.functional.pixel_shuffle`` (also Paddle, MindSpore, ONNX DepthToSpace CRD),
        channel ``k*r*r + i*r + j`` for output row ``h*r + i`` and column ``w*r + j``.
    See :mod:`enhancenet_core.pixel_shuffle`.
    """

    PAPER = "paper"
    FRAMEWORK = "framework"


class HeadInput(str, Enum):
    """What EnhanceNet takes as input (Table 5a): F^LR, M^LR or their concatenation [F^LR, M^LR] (Eq. 1)."""

    FEATURES = "features"
    HEATMAPS = "heatmaps"
    BOTH = "both"


class Upsampler(str, Enum):
    """The last (L-th) layer of EnhanceNet (Table 5c)."""

    SUBPIXEL = "subpixel"  # conv C -> K*r^2 (kernel k) then periodic shuffle
    DECONV = "deconv"  # transposed conv C -> K, kernel k, stride r
    BILINEAR_CONV = "bilinear_conv"  # bilinear upsampling by r, then conv C -> K (kernel k)


class PretrainedScope(str, Enum):
    """What ``model.base.pretrained`` initialises: the ImageNet backbone only (the paper's setting: deconvolutions,
    final layer and head start fresh), or the whole base pose model (a trained SimpleBaseline / HRNet to which
    EnhanceNet is added as a plug-in; only the head starts fresh)."""

    BACKBONE = "backbone"
    BASE = "base"


class BaseModelName(str, Enum):
    """Base pose models that EnhanceNet is attached to."""

    SIMPLE_BASELINE = "simple_baseline"
    HRNET = "hrnet"
    HOURGLASS = "hourglass"
    CPN = "cpn"
    DLCM = "dlcm"  # Tang, Yu & Wu, ECCV 2018: compositional hourglasses on MPII (enhancenet_core.compositional)
    #: pose-ae-train's bottom-up Associative Embedding network (``models/posenet.py``): per stack K detection maps,
    #: K tag maps and unsupervised rest channels; see :mod:`enhancenet_core.architecture` (``ae_*``).
    AE_HOURGLASS = "ae_hourglass"


class Decoder(str, Enum):
    """Heat map -> coordinate decoders (see :mod:`enhancenet_core.decoders`)."""

    ARGMAX = "argmax"
    ARGMAX_QUARTER = "argmax_quarter"  # HRNet get_final_preds: quarter-pixel step toward the larger neighbour
    DARK = "dark"  # DarkPose: blur, log, second-order Taylor step
    UNBIASED = "unbiased"  # the decoder matching the unbiased encoder (DARK step, pixel-centre aligned)


class HrReduction(str, Enum):
    """How the HR term L^HR is scaled against L^LR in the training loss (config ``loss.hr_reduction``).

    MEAN: HRNet's ``JointsMSELoss`` on both maps (0.5 x the per-pixel mean per joint), so L^HR and L^LR have the same
        scale and η weighs them as they are. What HRNet-based code does; the default.
    SUM: Eq. 7 as written: L^LR and L^HR are *sums* over their pixels, and M^HR has r² times the pixels of M^LR, so
        against L^LR the HR term weighs r² times its mean. Implemented as the mean times r² (the LR term keeps
        HRNet's mean, so the learning rate keeps its meaning): the effective η is ``hr_weight · r²``.
    The paper does not say which it used; :func:`enhancenet_core.loss.hr_term_weight` computes the factor.
    """

    MEAN = "mean"
    SUM = "sum"


class FlipShiftRule(str, Enum):
    """How many heat-map pixels the flipped-back map is shifted right in the flip test (config ``test.flip_shift``).

    EXACT (the default): ``(s_x - 1) / s_x``, the derived LEGACY misalignment (fractional; ``flip.flip_shift``
        interpolates): 0.75 on M^LR at stride 4, and on M^HR at r = 2, 3, 4, 5 (stride 4/r): 0.5, 0.25, 0, -0.25.
        No flip bias on any map at any r.
    HRNET: HRNet's rule, the exact value rounded half up to whole pixels: 1 on every LEGACY map with stride >= 2
        (HRNet's hard-coded ``flipped[..., 1:] = flipped[..., :-1]``), 0 at stride <= 4/3. It leaves half the
        rounding error as a bias of the flip-test average: (1 - 0.75)·4/2 = +0.5 input px on M^LR (stride 4), and on
        M^HR +0.5 input px at r = 2, -1/6 at r = 3, +0.1 at r = 5 (0 at r = 4). Use it to match HRNet's own
        evaluation of a base model to the digit.
    NONE: no shift (HRNet's ``SHIFT_HEATMAP: false``).
    UNBIASED maps get 0 under every rule. See :mod:`enhancenet_core.coordinates` for the derivation.
    """

    HRNET = "hrnet"
    EXACT = "exact"
    NONE = "none"


class AssignmentSolver(str, Enum):
    """Which solver the bottom-up grouping's Hungarian step uses (:mod:`enhancenet_core.bottomup.assignment`)."""

    MUNKRES = "munkres"
    SCIPY = "scipy"


class TagReading(str, Enum):
    """How a detection on a map r times larger than the tag map reads its tag (:mod:`enhancenet_core.bottomup.candidates`)."""

    NEAREST = "nearest"
    BILINEAR = "bilinear"


class PersonKeying(str, Enum):
    """How new persons are told apart during bottom-up matching (:mod:`enhancenet_core.bottomup.grouping`, step 3)."""

    TAG_VALUE = "tag_value"
    PER_CANDIDATE = "per_candidate"


class RefineMode(str, Enum):
    """Whether and how missing joints are filled in after grouping (:mod:`enhancenet_core.bottomup.refine`)."""

    CORRECTED = "corrected"
    PEER = "peer"
    OFF = "off"
