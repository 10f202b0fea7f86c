"""Feeding enhancenet-core's :class:`~enhancenet_runtime.data.PoseDataset` to MindSpore: a plain Python batch iterator.

Everything about a sample (reading, crop, augmentation, LR/HR targets) is enhancenet-core's; this module decides
which indices each process reads, in which order, and turns collated NumPy batches into ``mindspore.Tensor``.

Why not ``mindspore.dataset.GeneratorDataset``: exact resume needs the batch order to be a pure function of
``(seed, epoch, rank)`` and the ability to start an epoch at batch ``b``. With a plain iterator both are two lines
(:meth:`BatchLoader.epoch_indices`, ``skip_batches``), there is no sampler or pipeline state to checkpoint, and the
result does not depend on the number of workers (each sample draws its augmentation from
``default_rng([seed, epoch, index])`` in enhancenet-core). GeneratorDataset's shuffle buffer, its own seeded
sampler and its worker processes would all have to be captured and replayed. Loading is still parallel:
``workers > 0`` builds the samples of a batch in a thread pool (OpenCV releases the GIL), in order.

Order: epoch ``e`` permutes ``range(N)`` with ``numpy.random.default_rng([seed, e])`` (training; identity for
testing), pads it by repetition to a multiple of ``world_size`` and gives rank ``r`` positions
``r, r + world, ...`` (as torch's ``DistributedSampler``, with NumPy's generator instead of torch's, so the
permutation itself differs from enhancenet-torch's). Training drops the last incomplete batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import mindspore as ms
import numpy as np

__all__ = ["BatchLoader", "build_pose_dataset", "to_mindspore"]


def to_mindspore(batch: Mapping[str, Any], keys: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Float/int NumPy arrays of a collated batch -> ``mindspore.Tensor`` (``keys``: only these); ``meta`` and
    other values stay as they are (NumPy, lists)."""
    out: dict[str, Any] = {}
    for key, value in batch.items():
        wanted = keys is None or key in keys
        if wanted and isinstance(value, np.ndarray) and value.dtype != object and key != "meta":
            out[key] = ms.Tensor(np.ascontiguousarray(value))
        else:
            out[key] = value
    return out


class BatchLoader:
    """Deterministic, resumable, rank-sharded batches of a map-style data set.

    Args:
        dataset: ``__len__``, ``__getitem__(i) -> sample dict`` and optionally ``sample(i, epoch)`` (the core
            ``PoseDataset``; used so the epoch is explicit) or ``set_epoch(epoch)``.
        batch_size: samples per batch on this process.
        train: shuffle per epoch and drop the last incomplete batch.
        seed: the shuffling seed (the run's ``train.seed``).
        rank, world_size: this process and the number of processes (data parallel).
        workers: threads building the samples of a batch (0: in the calling thread).
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int,
        *,
        train: bool,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        workers: int = 0,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size: expected >= 1, got {batch_size}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} of world_size {world_size}: expected 0 <= rank < world_size")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.train = bool(train)
        self.seed = int(seed)
        self.rank = int(rank)
        self.world_size = int(world_size)
        self.workers = max(0, int(workers))

    @property
    def samples_per_rank(self) -> int:
        """Samples this rank reads per epoch (``ceil(N / world_size)``)."""
        return -(-len(self.dataset) // self.world_size)

    def __len__(self) -> int:
        """Batches per epoch on this rank."""
        n = self.samples_per_rank
        return n // self.batch_size if self.train else -(-n // self.batch_size)

    def epoch_indices(self, epoch: int) -> np.ndarray:
        """(samples_per_rank,) int64 data-set indices this rank reads in ``epoch``, in order."""
        n = len(self.dataset)
        order = np.random.default_rng([self.seed, int(epoch)]).permutation(n) if self.train else np.arange(n)
        total = self.samples_per_rank * self.world_size
        if total > n:
            order = np.resize(order, total)  # pad by repetition, as DistributedSampler
        return order[self.rank :: self.world_size].astype(np.int64)

    def _get(self, index: int, epoch: int) -> dict[str, Any]:
        if hasattr(self.dataset, "sample"):
            return self.dataset.sample(int(index), epoch)
        return self.dataset[int(index)]

    def batches(self, epoch: int, skip_batches: int = 0) -> Iterator[dict[str, Any]]:
        """Collated NumPy batches of ``epoch`` on this rank, starting after its first ``skip_batches`` batches.

        Each batch is the data set's ``collate`` (the core ``PoseDataset`` renders the targets per batch) or
        :func:`enhancenet_runtime.data.collate_samples` of its samples: ``image`` (B, 3, H, W),
        ``target_lr`` (B, K, h, w), ``target_weight_lr`` (B, K)[, ``target_hr``, ``target_weight_hr``] and
        ``meta`` (arrays of length B).
        """
        from enhancenet_runtime.data import collate_samples

        # the core data set's collate renders the batch's targets in one call; other data sets: plain stacking
        collate = getattr(self.dataset, "collate", collate_samples)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(int(epoch))
        indices = self.epoch_indices(epoch)
        starts = range(int(skip_batches) * self.batch_size, len(indices), self.batch_size)
        pool = ThreadPoolExecutor(self.workers) if self.workers > 0 else None
        try:
            for start in starts:
                chunk = indices[start : start + self.batch_size]
                if self.train and len(chunk) < self.batch_size:
                    return
                if pool is None:
                    samples = [self._get(i, epoch) for i in chunk]
                else:
                    samples = list(pool.map(lambda i: self._get(i, epoch), chunk))
                yield collate(samples)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)


def build_pose_dataset(cfg: Any, train: bool) -> Any:
    """The core ``PoseDataset`` of the training (``train=True``) or test split of ``cfg``
    (:func:`enhancenet_runtime.engine.data.open_split`: a missing file raises FileNotFoundError, a split without any
    usable person instance a ValueError naming the field, the file and the counted skip reasons)."""
    from enhancenet_runtime.engine.data import open_split

    return open_split(cfg, train)
