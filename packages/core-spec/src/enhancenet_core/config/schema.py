"""The config schema: one frozen dataclass per section, with defaults and a comment per field.

Field names follow the HRNet code base where one exists (``sigma``, ``flip_pairs``, ``use_target_weight``,
``flip_test``, ``post_process``, ``oks_thre``, ``in_vis_thre``). Sizes are
``(width, height)`` as in HRNet's ``IMAGE_SIZE`` / ``HEATMAP_SIZE``.

The trailing ``# comment`` of each field line is its description in the JSON Schema
(:mod:`enhancenet_core.config.json_schema` reads this file's source), so keep one comment per field line.
Value ranges live in :mod:`enhancenet_core.config.rules`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from enhancenet_core.conventions import (
    AssignmentSolver,
    BaseModelName,
    CoordinateConvention,
    Decoder,
    FlipShiftRule,
    HeadInput,
    HrReduction,
    PersonKeying,
    PretrainedScope,
    RefineMode,
    ShuffleOrder,
    TagReading,
    Upsampler,
)
from enhancenet_core.datasets import DatasetName, dataset_info

if TYPE_CHECKING:
    from enhancenet_core.bottomup.grouping import GroupingParams

__all__ = [
    "COCO_FLIP_PAIRS",
    "MPII_FLIP_PAIRS",
    "AugmentationConfig",
    "BaseModelConfig",
    "BottomUpConfig",
    "Config",
    "DataConfig",
    "EnhanceNetConfig",
    "LossConfig",
    "ModelConfig",
    "SplitFiles",
    "TargetConfig",
    "TestConfig",
    "TrainConfig",
]

# [datasets] the pairs live in the data-set table (enhancenet_core.datasets); re-exported here.
COCO_FLIP_PAIRS: tuple[tuple[int, int], ...] = dataset_info(DatasetName.COCO).flip_pairs
MPII_FLIP_PAIRS: tuple[tuple[int, int], ...] = dataset_info(DatasetName.MPII).flip_pairs


@dataclass(frozen=True)
class EnhanceNetConfig:
    """The EnhanceNet head (Sec. 3.1). Paper setting: L=3, C=128, r=4, sub-pixel, input F+M."""

    enabled: bool = True  # attach the head; false trains/evaluates the base model alone
    inputs: HeadInput = HeadInput.BOTH  # x = F^LR, M^LR or [F^LR, M^LR] (Eq. 1, Table 5a)
    num_layers: int = 3  # L, counting the upsampling layer: L-1 regular convs + 1 upsampler
    channels: int = 128  # C, width of the L-1 regular convs
    upscale: int = 4  # r
    first_kernel: int = 1  # kernel of w_1 (1x1: channel reduction)
    kernel: int = 3  # kernel of w_2 .. w_{L-1}
    upsampler: Upsampler = Upsampler.SUBPIXEL  # the L-th layer (Table 5c)
    upsampler_kernel: int = 3  # kernel of the L-th layer: 3 for sub-pixel / bilinear+conv; 3 or 12 for deconv
    shuffle_order: ShuffleOrder = ShuffleOrder.FRAMEWORK  # channel order the last conv's weights are stored in


@dataclass(frozen=True)
class BaseModelConfig:
    """The base pose model that produces (F^LR, M^LR).

    Only the fields of the chosen ``name`` are read: ``depth`` for simple_baseline / cpn (ResNet 18..152),
    ``width`` for hrnet (32 or 48), ``stages`` for hourglass (stacks: 2, 4, 8); dlcm (MPII only) reads
    ``hourglass_channels`` and ``hourglass_blocks`` (its five stacks follow from the 3-level hierarchy);
    ``stages``, ``hourglass_channels``, ``hourglass_increase``, ``ae_output_channels`` for ae_hourglass
    (pose-ae-train's ``nstack``, ``inp_dim``, ``increase``, ``oup_dim``: 4, 256, 128, 68).
    """

    name: BaseModelName = BaseModelName.SIMPLE_BASELINE  # base pose model
    depth: int = 50  # ResNet depth (simple_baseline, cpn): 18, 34, 50, 101 or 152
    width: int = 32  # HRNet width (hrnet): 18, 32 or 48
    stages: int = 4  # number of stacked hourglasses (hourglass)
    num_deconv_layers: int = 3  # SimpleBaseline
    deconv_channels: int = 256  # SimpleBaseline
    deconv_kernel: int = 4  # SimpleBaseline
    final_conv_kernel: int = 1  # heat-map layer
    hourglass_channels: int = 256  # feature width of every hourglass (hourglass, dlcm, ae_hourglass)
    hourglass_blocks: int = 1  # residual blocks per hourglass stage (hourglass, dlcm)
    hourglass_increase: int = 128  # ae_hourglass: channels added at each deeper hourglass level
    ae_output_channels: int = 68  # ae_hourglass: per-stack outputs, K detection + K tag + unsupervised rest
    pretrained: str | None = None  # local path to ImageNet weights; never downloaded
    pretrained_scope: PretrainedScope = PretrainedScope.BACKBONE  # backbone only, or the whole base model


@dataclass(frozen=True)
class ModelConfig:
    """Base model, EnhanceNet head, keypoints and patch / heat-map geometry."""

    base: BaseModelConfig = field(default_factory=BaseModelConfig)  # the base pose model
    head: EnhanceNetConfig = field(default_factory=EnhanceNetConfig)  # the EnhanceNet head
    num_keypoints: int = 17  # K
    input_size: tuple[int, int] = (192, 256)  # (width, height) of the input patch
    heatmap_stride: int = 4  # s: input size / LR heat-map size

    @property
    def heatmap_size(self) -> tuple[int, int]:
        """(width, height) of M^LR."""
        return (self.input_size[0] // self.heatmap_stride, self.input_size[1] // self.heatmap_stride)

    @property
    def hr_heatmap_size(self) -> tuple[int, int]:
        """(width, height) of M^HR = r * size of M^LR."""
        w, h = self.heatmap_size
        return (w * self.head.upscale, h * self.head.upscale)


@dataclass(frozen=True)
class TargetConfig:
    """Gaussian targets: LR with ``sigma``, HR with ``upscale * sigma`` (Eq. 6)."""

    sigma: float = 2.0  # std of the LR Gaussian in LR heat-map pixels; M^HR uses r * sigma
    convention: CoordinateConvention = CoordinateConvention.LEGACY  # grid alignment (legacy HRNet or unbiased)


@dataclass(frozen=True)
class LossConfig:
    """L = lr_weight * L^LR + hr_weight * L^HR (Eq. 8, eta = hr_weight = 1)."""

    hr_weight: float = 1.0  # eta
    hr_reduction: HrReduction = HrReduction.MEAN  # L^HR vs L^LR: mean (HRNet, per-pixel mean) | sum (Eq. 7: x r^2)
    lr_weight: float = 1.0  # weight of the base model's loss L^LR
    use_target_weight: bool = True  # mask joints by their visibility weight (HRNet)
    ohkm: bool = False  # online hard keypoint mining (CPN), applied after EnhanceNet
    ohkm_topk: int = 8  # OHKM keeps the top-k joint losses (1 <= k <= K)


@dataclass(frozen=True)
class AugmentationConfig:
    """HRNet's training augmentation."""

    flip: bool = True  # random horizontal flip (p = 0.5) with flip_pairs
    scale_factor: float = 0.35  # scale jitter: scale *= clip(1 + N(0,1) * f, 1 - f, 1 + f)
    rotation_factor: float = 45.0  # rotation jitter in degrees: clip(N(0,1) * f, -2f, 2f)
    rotation_prob: float = 0.6  # probability of applying the rotation
    half_body_prob: float = 0.3  # probability of a half-body crop (0 disables)
    num_joints_half_body: int = 8  # half-body crop only when more visible joints than this


@dataclass(frozen=True)
class SplitFiles:  # [datasets] files of one split, named directly instead of HRNet's layout under data.root
    """The annotation file and image directory of one split; empty: HRNet's layout under ``data.root``."""

    annotations: str = ""  # annotation file (COCO-format JSON; HRNet's MPII JSON for loader mpii)
    images: str = ""  # directory the annotation file's image names are relative to


@dataclass(frozen=True)
class DataConfig:
    """Data set, splits, flip pairs, augmentation and crop geometry."""

    dataset: str = DatasetName.COCO  # a shipped data set (coco, mpii, ...) or a data-set file (.yaml/.yml/.json)
    root: str = ""  # data set root; for synthetic, where it is generated
    train_set: str = "train2017"  # training split name
    test_set: str = "val2017"  # evaluation split name
    train: SplitFiles = field(default_factory=SplitFiles)  # training files (default: layout under root)
    test: SplitFiles = field(default_factory=SplitFiles)  # evaluation files (default: layout under root)
    flip_pairs: tuple[tuple[int, int], ...] | None = None  # (left, right) keypoint pairs; null: the data set's
    augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)  # training augmentation
    color_rgb: bool = True  # feed RGB (true) or OpenCV's BGR (false)
    pixel_std: float = 200.0  # HRNet's scale unit: scale = box size / pixel_std
    bbox_scale: float = 1.25  # box -> scale enlargement

    def __post_init__(self) -> None:  # [datasets] a shipped name as the enum; flip_pairs default to the row's
        if not isinstance(self.dataset, DatasetName) and self.dataset in tuple(DatasetName):
            object.__setattr__(self, "dataset", DatasetName(self.dataset))
        if self.flip_pairs is None:
            try:
                object.__setattr__(self, "flip_pairs", dataset_info(self.dataset).flip_pairs)
            except (ValueError, FileNotFoundError):  # a bad data.dataset: validate_config reports it
                pass


@dataclass(frozen=True)
class TrainConfig:
    """Optimizer, schedule and run settings."""

    optimizer: str = "adam"  # adam | sgd
    lr: float = 1e-3  # base learning rate
    lr_steps: tuple[int, ...] = (170, 200)  # epochs at which lr is multiplied by lr_factor (increasing)
    lr_factor: float = 0.1  # step decay factor
    weight_decay: float = 0.0  # L2 weight decay
    momentum: float = 0.9  # sgd only
    epochs: int = 210  # total training epochs
    batch_size: int = 32  # per process
    seed: int = 0  # random seed (>= 0)
    workers: int = 4  # data-loading worker processes
    amp: bool = True  # used only on CUDA


@dataclass(frozen=True)
class TestConfig:
    """Evaluation settings (HRNet's TEST section)."""

    flip_test: bool = True  # average with the prediction of the flipped patch
    flip_shift: FlipShiftRule = FlipShiftRule.EXACT  # shift of the flipped-back maps: exact | hrnet | none
    post_process: bool = True  # refine decoded peaks (see decoder)
    decoder: Decoder = Decoder.ARGMAX_QUARTER  # heat map -> coordinates
    use_hr: bool = True  # decode M^HR when EnhanceNet is on, else M^LR
    use_gt_bbox: bool = False  # ground-truth boxes (true) or detections from bbox_file (false)
    bbox_file: str = ""  # person detections (COCO results JSON)
    image_thre: float = 0.0  # keep detections scoring above this
    in_vis_thre: float = 0.2  # keypoint score threshold used in rescoring
    oks_thre: float = 0.9  # OKS-NMS threshold
    batch_size: int = 32  # per process
    check_pycocotools: bool = False  # COCO AP: also run pycocotools and record its numbers (a slower cross-check)


@dataclass(frozen=True)
class BottomUpConfig:
    """Bottom-up (Associative Embedding) data and test settings; defaults are pose-ae-train's.

    Grouping fields mirror :class:`enhancenet_core.bottomup.GroupingParams` (:meth:`grouping_params`); the
    rest are its data scheme (``data/coco_pose/dp.py``) and test flow (``test.py``). Read only by bottom-up
    models.
    """

    detection_threshold: float = 0.1  # candidates need a detection value above this (test.py's parser)
    tag_threshold: float = 1.0  # a candidate joins a person only at tag distance (RMS over T) below this
    max_num_people: int = 30  # persons matched per image (also the ignore_too_much limit and the training cap)
    top_k: int = 30  # candidates per joint after NMS
    nms_kernel: int = 3  # odd window of the max-pool NMS
    use_detection_val: bool = True  # matching cost round(distance) * 100 - value (false: the distance)
    ignore_too_much: bool = True  # skip the remaining joint types once max_num_people persons exist
    clip_detections_at: float | None = 1.0  # detections are clipped at this before grouping (null: no clip)
    adjust: bool = True  # quarter-pixel adjustment toward the larger neighbour
    refine: RefineMode = RefineMode.CORRECTED  # fill missing joints after grouping: corrected | peer | off
    solver: AssignmentSolver = AssignmentSolver.MUNKRES  # Hungarian step: munkres (pose-ae-train's ties) | scipy
    tag_reading: TagReading = TagReading.NEAREST  # how an HR detection reads the LR tag map: nearest | bilinear
    keying: PersonKeying = PersonKeying.TAG_VALUE  # new persons keyed by their first tag value (peer) or apart
    flip_test: bool = True  # average detections with the flipped image's, concatenate both tags (T = 2)
    scales: tuple[float, ...] = (1.0,)  # test scales of the input size; the first sets the grouping resolution
    size_multiple: int = 64  # a test input side is ceil(scale * input side / this) * this (hourglass: 64)
    rotation: float = 30.0  # training rotation drawn uniformly in [-rotation, rotation] degrees
    scale_range: tuple[float, float] = (0.75, 1.25)  # training scale factor drawn uniformly in this range
    translate: float = 40.0  # training shift of the centre, uniform integer in [-t·s, t·s) px (s: scale)
    flip: bool = True  # training horizontal flip with probability 0.5

    def grouping_params(self) -> GroupingParams:
        """The parser settings of this section."""
        from enhancenet_core.bottomup.grouping import GroupingParams  # NumPy/SciPy: not at config import

        return GroupingParams(
            detection_threshold=self.detection_threshold,
            tag_threshold=self.tag_threshold,
            max_num_people=self.max_num_people,
            top_k=self.top_k,
            nms_kernel=self.nms_kernel,
            use_detection_val=self.use_detection_val,
            ignore_too_much=self.ignore_too_much,
            clip_detections_at=self.clip_detections_at,
            adjust=self.adjust,
            refine=self.refine,
            solver=self.solver,
            tag_reading=self.tag_reading,
            keying=self.keying,
        )


@dataclass(frozen=True)
class Config:
    """A whole experiment: model, targets, loss, data, training and testing."""

    model: ModelConfig = field(default_factory=ModelConfig)  # network
    target: TargetConfig = field(default_factory=TargetConfig)  # ground-truth heat maps
    loss: LossConfig = field(default_factory=LossConfig)  # training loss
    data: DataConfig = field(default_factory=DataConfig)  # data set and augmentation
    train: TrainConfig = field(default_factory=TrainConfig)  # optimisation
    test: TestConfig = field(default_factory=TestConfig)  # evaluation
    bottomup: BottomUpConfig = field(default_factory=BottomUpConfig)  # bottom-up (Associative Embedding) settings
