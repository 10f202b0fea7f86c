"""The experiment grid of ``nox -s reproduce``: plain dataclasses, content hashes, no framework.

A :class:`TrainRun` is one training (framework, seed, config overrides, data set); an :class:`EvalRun` is one
evaluation of a trained run (decoder, LR or HR maps). A scale may pretrain a backbone first (:class:`Pretrain`,
the stand-in for the paper's ImageNet initialisation): one base-model training in the reference framework on a
separate synthetic set, converted to canonical safetensors, from which every run of every framework starts its
backbone or whole base model (``model.base.pretrained_scope``). Experiments that coincide share runs: the default
EnhanceNet run (F+M, C=128, sub-pixel, r=4) of the reference framework and first seed is Table 4's
"+EnhanceNet", Table 5's default row in all four sub-tables, and the model the decoders re-decode. Each run
is identified by :attr:`TrainRun.key`, a hash of everything that changes its result, so a second
``reproduce`` finds it finished (``run.json`` / ``results.json`` in its directory) and skips it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "CPN_OVERRIDES",
    "DECODERS",
    "ENHANCENET_SUM",
    "FLIP_RULES",
    "FRAMEWORKS",
    "FULL",
    "QUICK",
    "REPRO_VERSION",
    "SCALES",
    "DataSpec",
    "EvalRun",
    "Experiment",
    "Frozen",
    "Grid",
    "Pretrain",
    "Scale",
    "Schedule",
    "TrainRun",
    "Variant",
    "build_grid",
]

#: Bumped when the meaning of a run changes (invalidates every cached run).
REPRO_VERSION = 2  # 2: the flip test shifts every map exactly (test.flip_shift: exact)
FRAMEWORKS: tuple[str, ...] = ("torch", "paddle", "mindspore")
DECODERS: tuple[str, ...] = ("argmax_quarter", "dark", "unbiased")
BASE_CONFIG = "synthetic_quick"

Override = tuple[str, str]


def _digest(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class DataSpec:
    """The synthetic data set: ``num_images`` images of ``image_size`` (width, height), 20 % of them val, with
    ``people_per_image`` (inclusive min, max) people each (see ``generate_synthetic_coco``)."""

    num_images: int
    image_size: tuple[int, int]
    seed: int = 0
    people_per_image: tuple[int, int] = (1, 3)

    @property
    def key(self) -> str:
        people = "" if self.people_per_image == (1, 3) else f"-p{self.people_per_image[0]}-{self.people_per_image[1]}"
        return f"synthetic-{self.num_images}-{self.image_size[0]}x{self.image_size[1]}-s{self.seed}{people}"


@dataclass(frozen=True)
class Variant:
    """A model variant: a name, the paper's label and the ``--set`` overrides that make it."""

    name: str
    label: str
    overrides: tuple[Override, ...] = ()

    @property
    def has_head(self) -> bool:
        return ("model.head.enabled", "false") not in self.overrides


BASE = Variant("base", "base model", (("model.head.enabled", "false"),))
ENHANCENET = Variant("enhancenet", "+EnhanceNet")
#: Eq. 7 read as sums over pixels: L^HR weighs η·r² against L^LR (``loss.hr_reduction: sum``); the default
#: (``ENHANCENET``) is HRNet's per-pixel mean on both maps.
ENHANCENET_SUM = Variant("enhancenet_sum", "+EnhanceNet (Eq. 7 sums: η·r²)", (("loss.hr_reduction", "sum"),))
#: CPN ResNet-50 (our CPN has ResNet-50/101 trunks only) with OHKM (top 8) on its final map, or on M^HR with the
#: head (Eq. 8).
CPN_OVERRIDES: tuple[Override, ...] = (("model.base.name", "cpn"), ("model.base.depth", "50"), ("loss.ohkm", "true"),
                                       ("loss.ohkm_topk", "8"))
FLIP_RULES: tuple[str, ...] = ("exact", "hrnet")


def _head(name: str, label: str, **sets: object) -> Variant:
    return Variant(name, label, tuple((f"model.head.{k}", str(v)) for k, v in sets.items()))


#: Table 5 sub-tables: (sub-table id, title, variants). The default EnhanceNet row appears in each.
TABLE5: tuple[tuple[str, str, tuple[Variant, ...]], ...] = (
    ("a", "Input of EnhanceNet", (
        _head("in_F", "F^LR", inputs="features"),
        _head("in_M", "M^LR", inputs="heatmaps"),
        Variant("enhancenet", "M^LR + F^LR"),
    )),
    ("b", "Channels C", (
        _head("c64", "C = 64", channels=64),
        Variant("enhancenet", "C = 128"),
        _head("c256", "C = 256", channels=256),
    )),
    ("c", "Upscaling layer", (
        _head("bilinear_conv3", "bilinear + conv 3x3", upsampler="bilinear_conv", upsampler_kernel=3),
        _head("deconv3", "deconv 3x3", upsampler="deconv", upsampler_kernel=3),
        _head("deconv12", "deconv 12x12", upsampler="deconv", upsampler_kernel=12),
        Variant("enhancenet", "sub-pixel 3x3"),
    )),
    ("d", "Upscaling ratio r", (
        _head("r2", "r = 2", upscale=2),
        _head("r3", "r = 3", upscale=3),
        Variant("enhancenet", "r = 4"),
        _head("r5", "r = 5", upscale=5),
    )),
)  # fmt: skip


@dataclass(frozen=True)
class Pretrain:
    """Base-model pretraining, the CPU-scale stand-in for the paper's ImageNet-pretrained backbones.

    The base model (no head) of the scale is trained in the reference framework on ``data`` (a synthetic set
    with another seed than the experiments', so their val images stay unseen) with the scale's overrides plus
    ``overrides``, for ``max_steps`` (None: all epochs), and converted to canonical safetensors; every run of every
    framework starts from it through ``model.base.pretrained``. What it initialises is the scale's
    ``model.base.pretrained_scope``: the backbone only (ResNet ``conv1``..``layer4``; the paper's setting, where
    deconvolutions, final layer and head start fresh) or the whole base model (``base``: only the head starts
    fresh; the FULL and QUICK scales).
    """

    data: DataSpec
    overrides: tuple[Override, ...] = ()
    max_steps: int | None = None
    seed: int = 0


@dataclass(frozen=True)
class Schedule:
    """A longer training schedule for Table 4's pair in the reference framework ("table4_long").

    ``overrides`` follow the scale's (epochs, lr steps); ``max_steps`` caps it (None: all epochs). ``label`` heads
    its table; ``short`` names it in figure legends and titles.
    """

    overrides: tuple[Override, ...]
    max_steps: int | None = None
    label: str = ""
    short: str = "longer"
    #: the variants trained on it (the quick scale leaves the Eq. 7 sums out: the same harness path as the rest)
    variants: tuple[str, ...] = ("base", "enhancenet", "enhancenet_sum")


@dataclass(frozen=True)
class Frozen:
    """The frozen-base experiment (:mod:`reproduce.frozen`): the scale's pretrained base frozen, its F^LR and M^LR
    cached once, a fresh head trained alone on them for ``steps`` steps (``batch`` crops of ``patch`` x ``patch`` LR
    pixels around labelled joints, Adam at ``lr``) per seed; PyTorch only."""

    seeds: tuple[int, ...]
    steps: int
    batch: int = 16
    patch: int = 8
    lr: float = 1e-3


@dataclass(frozen=True)
class Scale:
    """How big the runs are. ``overrides`` apply to every run; ``max_steps`` caps training (None: all epochs).

    ``table5_variants`` limits Table 5 to these variant names (``None``: all); ``seeds`` are the training seeds
    of every framework's with/without pair and of the decoders' re-evaluations (Table 5 uses the first).
    ``long_schedule`` adds the with/without pair trained longer, in the reference framework only, over the same
    seeds, and beside it +EnhanceNet with the HR term as Eq. 7's sums (``loss.hr_reduction: sum``). ``cpn`` adds
    CPN's with/without pair (OHKM after the head) in the reference framework over the seeds, each run starting its
    whole CPN from that pretraining (its ``overrides`` are added to the scale's and :data:`CPN_OVERRIDES`).
    """

    name: str
    data: DataSpec
    seeds: tuple[int, ...]
    overrides: tuple[Override, ...]
    max_steps: int | None = None
    table5_variants: tuple[str, ...] | None = None
    pretrain: Pretrain | None = None
    long_schedule: Schedule | None = None
    cpn: Pretrain | None = None
    cpn_seeds: tuple[int, ...] | None = None  # None: ``seeds``
    #: seeds of everything but the reference framework's Table 4 pair (other frameworks' pairs, the longer
    #: schedule, the decoders); None: ``seeds``. The quick scale's trim: each code path once, within 5 minutes.
    side_seeds: tuple[int, ...] | None = None
    #: the decoder grid's cells as (variant name, "lr" | "hr", decoder); None: every decoder on both maps of
    #: +EnhanceNet and on the base's M^LR. The quick scale's trim keeps each decoder and map once, and one
    #: decoder on all three maps (the head- and training-effect comparisons' code path).
    decoder_cells: tuple[tuple[str, str, str], ...] | None = None
    frozen: Frozen | None = None
    why: str = ""


FULL = Scale(
    name="full",
    data=DataSpec(num_images=1000, image_size=(192, 256), people_per_image=(1, 1)),
    seeds=(0, 1, 2),
    overrides=(
        ("model.base.depth", "18"),
        ("model.base.deconv_channels", "64"),
        ("model.input_size", "[64, 96]"),
        ("model.base.pretrained_scope", "base"),
        ("data.augmentation.rotation_factor", "0"),
        ("train.lr", "0.001"),
        ("train.epochs", "1"),
        ("train.lr_steps", "[1]"),
        ("train.batch_size", "16"),
        ("train.workers", "0"),
        ("test.batch_size", "32"),
    ),
    max_steps=40,
    pretrain=Pretrain(
        DataSpec(num_images=2000, image_size=(192, 256), seed=1),
        overrides=(("train.lr", "0.003"), ("train.epochs", "13"), ("train.lr_steps", "[10]")),
    ),
    long_schedule=Schedule((("train.epochs", "8"), ("train.lr_steps", "[6]")),
                           label="8 epochs = 400 steps, lr 1e-3 then 1e-4 after epoch 6", short="400 steps"),
    # a CPN-50 step costs about 2.7 ResNet-18 steps here (measured under load, batch 16, 96x64): 6 epochs = 600
    # steps keep its pretraining near 6 minutes (the ResNet-18 pretraining: 2600 steps, 9.4 minutes)
    cpn=Pretrain(
        DataSpec(num_images=2000, image_size=(192, 256), seed=1),
        overrides=(("train.lr", "0.003"), ("train.epochs", "6"), ("train.lr_steps", "[5]")),
    ),
    # the head alone on 12x12-LR-px crops (8x8 loss region + halo) of the cached maps: about 0.04 s a step of 16 here
    # (from the head's share of a 40-step +EnhanceNet run in full.json), so 8 seeds x 1000 steps ~ 5.5 minutes
    frozen=Frozen(seeds=tuple(range(8)), steps=1000, batch=16, patch=8),
    why=(
        "SimpleBaseline ResNet-18 (deconvolution width 64) at 96x64 input (height x width): M^LR is 24x16 "
        "(stride 4), so one LR heat-map pixel is 4 input pixels, about 5 % of the person's height, and PCK@0.05 "
        "asks for about one LR pixel. Training a pose model from scratch takes far longer than this machine "
        "allows (PaddlePaddle runs about 15x and MindSpore about 7x slower than PyTorch per step on this CPU), "
        "so the experiments follow the plug-in use of EnhanceNet: one base model is pretrained once (PyTorch, "
        "13 epochs, about 2600 steps, on a separate synthetic set of 2000 images, data seed 1), converted to "
        "canonical safetensors, and every run of every framework starts its whole base model from it; the head "
        "starts fresh from the run's seed, and each run then trains base (+ head) jointly for 40 steps (batch 16, "
        "Adam, lr 1e-3, no rotation augmentation) on the experiment set (1000 single-person images, 800 train, "
        "200 val). The budget (90 minutes on 2 cores for 2 pretrainings, 43 trainings and 68 evaluations) sets "
        "these numbers; after 40 steps the head is far from converged, so Table 4's pair is also trained 10x "
        "longer (400 steps, lr 1e-3 then 1e-4 for the last 100) in PyTorch, the one framework fast enough for it "
        "here, over the same 3 seeds. The base models stay far from the precision at which heat-map "
        "quantisation dominates, which the tables show (median error in LR pixels)."
    ),
)

QUICK = Scale(
    name="quick",
    data=DataSpec(num_images=24, image_size=(64, 96)),
    seeds=(0, 1),
    overrides=(
        ("model.base.depth", "18"),
        ("model.base.deconv_channels", "16"),
        ("model.base.num_deconv_layers", "3"),
        ("model.input_size", "[32, 64]"),  # SimpleBaseline needs multiples of 32
        ("model.base.pretrained_scope", "base"),
        ("train.epochs", "1"),
        ("train.batch_size", "4"),
        ("train.workers", "0"),
        ("test.batch_size", "16"),
    ),
    max_steps=2,
    # Table 5's harness path once per input and once per upsampler (the other variants are config values the
    # model tests cover); the default row is always there
    table5_variants=("in_M", "bilinear_conv3"),
    pretrain=Pretrain(DataSpec(num_images=12, image_size=(64, 96), seed=1), max_steps=2),  # the whole base
    long_schedule=Schedule((("train.epochs", "2"), ("train.lr_steps", "[1]")), max_steps=4, label="4 steps",
                           short="4 steps", variants=("base", "enhancenet")),
    cpn=Pretrain(DataSpec(num_images=12, image_size=(64, 96), seed=1), max_steps=2),
    cpn_seeds=(0,),  # the CPN-50 code path once (a paired test of it needs the full scale's seeds)
    side_seeds=(0,),  # Table 4's reference pair keeps 2 seeds: the paired statistics' code path
    decoder_cells=(("base", "lr", "argmax_quarter"), ("enhancenet", "lr", "argmax_quarter"),
                   ("enhancenet", "hr", "argmax_quarter"), ("enhancenet", "hr", "dark"), ("base", "lr", "unbiased")),
    frozen=Frozen(seeds=(0, 1), steps=3, batch=4),
    why="smoke test: every code path, tiny models, 2 training steps; the numbers mean nothing.",
)

SCALES: dict[str, Scale] = {"full": FULL, "quick": QUICK}


@dataclass(frozen=True)
class TrainRun:
    """One training run. ``overrides`` are the full ``--set`` list (scale, data root excluded, variant, seed)."""

    framework: str
    variant: Variant
    seed: int
    overrides: tuple[Override, ...]
    data: DataSpec
    max_steps: int | None = None
    config: str = BASE_CONFIG
    pretrain: TrainRun | None = None  # the run whose weights initialise this one
    tag: str = ""  # told apart in names only (e.g. "long"); the key already differs by the overrides

    @property
    def key(self) -> str:
        """Content hash: framework, config, overrides, data set, step cap, backbone source, harness version."""
        return _digest({
            "v": REPRO_VERSION, "framework": self.framework, "config": self.config,
            "overrides": sorted(self.overrides), "data": self.data.key, "max_steps": self.max_steps,
            "pretrain": self.pretrain.key if self.pretrain is not None else None,
        })  # fmt: skip

    @property
    def name(self) -> str:
        return f"{self.framework}-{self.variant.name}-seed{self.seed}" + (f"-{self.tag}" if self.tag else "")


@dataclass(frozen=True)
class EvalRun:
    """One evaluation of a trained run, with test overrides (decoder, LR/HR); ``()`` is the config default."""

    train: TrainRun
    decoder: str = "argmax_quarter"
    use_hr: bool = True
    flip_shift: str = "exact"  # test.flip_shift: exact (the default) or HRNet's rounding ("hrnet")

    @property
    def overrides(self) -> tuple[Override, ...]:
        return (("test.decoder", self.decoder), ("test.use_hr", "true" if self.use_hr else "false"),
                ("test.flip_shift", self.flip_shift))

    @property
    def maps(self) -> str:
        """Which map is decoded: ``"hr"`` only when the model has the head and ``use_hr``."""
        return "hr" if (self.use_hr and self.train.variant.has_head) else "lr"

    @property
    def key(self) -> str:
        # use_hr means nothing without the head: a base model's evaluations coincide whatever it says
        return _digest({"train": self.train.key, "decoder": self.decoder, "maps": self.maps,
                        "flip_shift": self.flip_shift})

    @property
    def name(self) -> str:
        flip = "" if self.flip_shift == "exact" else f"-flip_{self.flip_shift}"
        return f"{self.train.name}-{self.decoder}-{self.maps}{flip}"


@dataclass(frozen=True)
class Experiment:
    """A cell of a table: which table, row label, and the evaluations whose metrics it shows."""

    table: str  # "table4" | "table4_long" | "cpn" | "table5a".."table5d" | "table5d_hrnet" | "decoders"
    label: str
    framework: str
    evals: tuple[EvalRun, ...]  # one per seed
    variant: Variant = field(default=ENHANCENET)


@dataclass(frozen=True)
class Grid:
    """The unique runs and the experiments that read them."""

    trains: tuple[TrainRun, ...]
    evals: tuple[EvalRun, ...]
    experiments: tuple[Experiment, ...]
    reference_framework: str
    pretrain: TrainRun | None = None
    cpn_pretrain: TrainRun | None = None

    @property
    def pretrains(self) -> tuple[TrainRun, ...]:
        """Every pretraining, in the order they run."""
        return tuple(p for p in (self.pretrain, self.cpn_pretrain) if p is not None)


def _unique(items: Iterable, key: str = "key") -> tuple:
    seen: dict[str, object] = {}
    for item in items:
        seen.setdefault(getattr(item, key), item)
    return tuple(seen.values())


def build_grid(scale: Scale, frameworks: Sequence[str]) -> Grid:
    """The runs for ``frameworks`` (in order; the first is the reference for Table 5 and the decoders).

    Raises:
        ValueError: no framework, or an unknown one.
    """
    if not frameworks:
        raise ValueError("build_grid: no framework to run (every framework was excluded)")
    for fw in frameworks:
        if fw not in FRAMEWORKS:
            raise ValueError(f"build_grid: framework must be one of {FRAMEWORKS}, got {fw!r}")
    ref = frameworks[0]
    pre: TrainRun | None = None
    if scale.pretrain is not None:
        p = scale.pretrain
        pre = TrainRun(ref, BASE, p.seed, (*scale.overrides, *BASE.overrides, *p.overrides, ("train.seed", str(p.seed))),
                       p.data, p.max_steps)

    cpn_pre: TrainRun | None = None
    if scale.cpn is not None:
        c = scale.cpn
        cpn_pre = TrainRun(ref, BASE, c.seed, tuple(dict((*scale.overrides, *CPN_OVERRIDES, *BASE.overrides,
                                                          *c.overrides, ("train.seed", str(c.seed)))).items()),
                           c.data, c.max_steps, tag="cpn")

    def run(fw: str, variant: Variant, seed: int, schedule: Schedule | None = None, cpn: bool = False) -> TrainRun:
        longer = schedule.overrides if schedule is not None else ()
        model = CPN_OVERRIDES if cpn else ()
        # a later override of the same key wins (the schedule's epochs over the scale's)
        overrides = dict((*scale.overrides, *model, *longer, *variant.overrides, ("train.seed", str(seed)))).items()
        max_steps = schedule.max_steps if schedule is not None else scale.max_steps
        tag = "-".join(t for t, on in (("cpn", cpn), ("long", schedule is not None)) if on)
        return TrainRun(fw, variant, seed, tuple(overrides), scale.data, max_steps,
                        pretrain=cpn_pre if cpn else pre, tag=tag)

    exps: list[Experiment] = []
    side = scale.side_seeds or scale.seeds
    for fw in frameworks:
        for variant in (BASE, ENHANCENET):
            evals = tuple(EvalRun(run(fw, variant, s)) for s in (scale.seeds if fw == ref else side))
            exps.append(Experiment("table4", variant.label, fw, evals, variant))
    if scale.long_schedule is not None:
        for variant in (v for v in (BASE, ENHANCENET, ENHANCENET_SUM) if v.name in scale.long_schedule.variants):
            evals = tuple(EvalRun(run(ref, variant, s, scale.long_schedule)) for s in side)
            exps.append(Experiment("table4_long", variant.label, ref, evals, variant))
    if cpn_pre is not None:
        for variant in (BASE, ENHANCENET):
            evals = tuple(EvalRun(run(ref, variant, s, cpn=True)) for s in (scale.cpn_seeds or scale.seeds))
            exps.append(Experiment("cpn", f"CPN {variant.label}", ref, evals, variant))
    seed0 = scale.seeds[0]
    for sub, _title, variants in TABLE5:
        for variant in variants:
            if scale.table5_variants is not None and variant.name not in (*scale.table5_variants, "enhancenet"):
                continue
            exps.append(Experiment(f"table5{sub}", variant.label, ref, (EvalRun(run(ref, variant, seed0)),), variant))
            if sub == "d":  # the same models under HRNet's whole-pixel flip shift (biased at r = 2, 3, 5)
                exps.append(Experiment("table5d_hrnet", variant.label, ref,
                                       (EvalRun(run(ref, variant, seed0), flip_shift="hrnet"),), variant))
    # every decoder on both maps of the same trained models, over every seed: head and training effect apart
    for variant in (BASE, ENHANCENET):
        for use_hr in ((False, True) if variant.has_head else (False,)):
            for decoder in DECODERS:
                cell = (variant.name, "hr" if use_hr else "lr", decoder)
                if scale.decoder_cells is not None and cell not in scale.decoder_cells:
                    continue
                evs = tuple(EvalRun(run(ref, variant, s), decoder, use_hr) for s in side)
                exps.append(Experiment("decoders", f"{variant.label} / {evs[0].maps.upper()} / {decoder}", ref, evs,
                                       variant))
    evals = _unique(ev for e in exps for ev in e.evals)
    trains = _unique(ev.train for ev in evals)
    return Grid(trains, evals, tuple(exps), ref, pre, cpn_pre)
