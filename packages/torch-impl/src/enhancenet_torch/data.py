"""A thin torch layer over :mod:`enhancenet_runtime.data`: Dataset, sampler and DataLoader.

Everything about samples (reading, crops, augmentation, targets) is in enhancenet-core; this module only turns
NumPy samples into tensors and decides which indices each process reads in which order:

* :class:`TorchPoseDataset` wraps a core ``PoseDataset`` (per-index RNG from ``(seed, epoch, index)``, so a
  sample is the same whichever worker or rank reads it).
* :class:`ResumableDistributedSampler` is :class:`~torch.utils.data.DistributedSampler` (the per-epoch
  permutation from ``seed + epoch``, rank ``r`` reads positions ``r, r + world, ...``) that can skip the batches
  of an epoch that a resumed run has already trained on. It is used with one process too (``num_replicas=1``),
  so the order of a single-process run is the same as the interleaved global order of a DDP run.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, default_collate

if TYPE_CHECKING:
    from enhancenet_runtime.data.records import PoseRecord

__all__ = [
    "CollateBottomUp",
    "CollateWithTargets",
    "ResumableDistributedSampler",
    "TorchPoseDataset",
    "build_loader",
    "build_pose_dataset",
    "to_tensors",
    "worker_init_fn",
]


def to_tensors(sample: Mapping[str, Any]) -> dict[str, Any]:
    """NumPy arrays and numbers -> tensors (no copy where possible); other values (paths, strings) unchanged."""
    out: dict[str, Any] = {}
    for key, value in sample.items():
        if isinstance(value, np.ndarray) and value.dtype != object:
            out[key] = torch.from_numpy(np.ascontiguousarray(value))
        elif isinstance(value, np.generic):
            out[key] = torch.as_tensor(value.item())
        elif isinstance(value, Mapping):
            out[key] = to_tensors(value)
        else:
            out[key] = value
    return out


class TorchPoseDataset(Dataset):
    """A torch :class:`~torch.utils.data.Dataset` over an enhancenet-core ``PoseDataset``.

    Each item is the core sample dict (:mod:`enhancenet_runtime.data.pipeline`) with arrays as tensors: ``image``
    (3, H, W) float32, ``joints`` (K, 2), ``joints_vis`` (K,) and ``meta`` (``center``, ``scale``, ``index``,
    ...). The targets are rendered per batch by the loader's collate (:class:`CollateWithTargets`):
    ``target_lr`` (B, K, h, w), ``target_weight_lr`` (B, K), with the head ``target_hr`` and ``target_weight_hr``.

    Args:
        core: any object with ``__len__``, ``__getitem__(index) -> dict`` and optionally ``set_epoch(epoch)``.
    """

    def __init__(self, core: Any) -> None:
        self.core = core

    def __len__(self) -> int:
        return len(self.core)

    @property
    def records(self) -> tuple[PoseRecord, ...]:
        """The person records of the wrapped core data set (``PoseDataset.records``); evaluation reads them
        (MPII's PCKh needs their head boxes)."""
        return self.core.records

    def __getitem__(self, index: int) -> dict[str, Any]:
        return to_tensors(self.core[int(index)])

    def set_epoch(self, epoch: int) -> None:
        """Forward the epoch to the core dataset (its augmentation RNG depends on it)."""
        if hasattr(self.core, "set_epoch"):
            self.core.set_epoch(epoch)


class CollateWithTargets:
    """Collate function: torch's ``default_collate``, then the batch's heat-map targets in one call of the core
    data set's ``targets(joints, joints_vis)`` (:func:`enhancenet_runtime.data.pipeline.render_targets`), which
    replace ``joints`` and ``joints_vis`` (the batch has the keys it had when samples carried their targets)."""

    def __init__(self, core: Any) -> None:
        self.core = core

    def __call__(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        batch = default_collate(samples)
        targets = self.core.targets(batch.pop("joints").numpy(), batch.pop("joints_vis").numpy())
        batch.update(to_tensors(targets))
        return batch


class CollateBottomUp:
    """Collate function of a whole-image (bottom-up) core data set: its ``collate`` (stacking, padding people,
    the multi-peak targets; :func:`enhancenet_runtime.data.bottomup.collate_bottomup`), then tensors."""

    def __init__(self, core: Any) -> None:
        self.core = core

    def __call__(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        return to_tensors(self.core.collate([_to_numpy(s) for s in samples]))


def _to_numpy(sample: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`to_tensors` on a sample (tensors back to NumPy, nested dicts too)."""
    return {k: v.numpy() if isinstance(v, torch.Tensor) else _to_numpy(v) if isinstance(v, Mapping) else v
            for k, v in sample.items()}


class ResumableDistributedSampler(DistributedSampler):
    """DistributedSampler that can start an epoch after its first ``skip_batches`` batches (exact resume).

    Args:
        dataset: the data set.
        num_replicas: processes (1 without DDP).
        rank: this process.
        shuffle: permute per epoch from ``seed + epoch``.
        seed: the training seed (same on every rank).
        drop_last: drop the tail that does not divide evenly across replicas (else pad by repetition).
        batch_size: per-process batch size, so that ``skip_batches`` can be turned into samples.
    """

    def __init__(
        self,
        dataset: Dataset,
        num_replicas: int = 1,
        rank: int = 0,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        batch_size: int = 1,
    ) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed,
                         drop_last=drop_last)
        self.batch_size = int(batch_size)
        self.skip_batches = 0

    def set_skip_batches(self, skip_batches: int) -> None:
        """Skip this many batches at the start of the next iteration (reset after one epoch)."""
        self.skip_batches = int(skip_batches)

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        skip = self.skip_batches * self.batch_size
        self.skip_batches = 0
        return iter(indices[skip:])

    def __len__(self) -> int:
        return max(0, self.num_samples - self.skip_batches * self.batch_size)


def worker_init_fn(worker_id: int) -> None:
    """Seed python and NumPy in a DataLoader worker from torch's per-worker seed.

    Augmentation does not depend on it (core samples use their own ``(seed, epoch, index)`` RNG); this only
    keeps any other library randomness reproducible.
    """
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - seeds the global state third-party code may use


def build_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    train: bool,
    workers: int = 0,
    seed: int = 0,
    num_replicas: int = 1,
    rank: int = 0,
    pin_memory: bool = False,
) -> DataLoader:
    """A DataLoader with a :class:`ResumableDistributedSampler` (training: shuffled, ``drop_last``).

    Test loaders are not shuffled and not padded across ranks beyond what DistributedSampler does.
    Workers are not persistent, so ``dataset.set_epoch`` before each epoch reaches them.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size: expected >= 1, got {batch_size}")
    sampler = ResumableDistributedSampler(
        dataset, num_replicas=num_replicas, rank=rank, shuffle=train, seed=seed, drop_last=False,
        batch_size=batch_size,
    )
    generator = torch.Generator()
    generator.manual_seed(seed + rank)
    core = getattr(dataset, "core", None)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        drop_last=train,
        pin_memory=pin_memory,
        worker_init_fn=worker_init_fn if workers > 0 else None,
        generator=generator,
        persistent_workers=False,
        collate_fn=_collate_fn(core),
    )


def _collate_fn(core: Any) -> Any:
    """The core data set renders the batch's targets in one call (top-down ``targets``, bottom-up ``collate``);
    other data sets: torch's default collate (``None``)."""
    if hasattr(core, "collate"):
        return CollateBottomUp(core)
    return CollateWithTargets(core) if hasattr(core, "targets") else None


def build_pose_dataset(cfg: Any, train: bool) -> TorchPoseDataset:
    """The core data set of ``cfg`` (training or test split; whole images for a bottom-up config,
    :func:`enhancenet_runtime.engine.data.open_split`), wrapped for torch.

    Raises:
        FileNotFoundError: a missing annotation, detection or image file (named by enhancenet-core).
        ValueError: the split has no usable instance (e.g. no annotation with keypoints), naming the file and
            the counted reasons every annotation was skipped for.
    """
    from enhancenet_runtime.engine.data import open_split

    return TorchPoseDataset(open_split(cfg, train))
