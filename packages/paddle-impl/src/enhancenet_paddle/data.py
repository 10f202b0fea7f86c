"""A thin Paddle layer over :mod:`enhancenet_runtime.data`: Dataset, the resumable distributed batch sampler, DataLoader.

Everything about samples (reading, crops, augmentation, targets, collation) is enhancenet-core's; this module
only decides which indices each process reads in which order and hands NumPy batches to ``paddle.io.DataLoader``
(which turns the arrays into tensors):

* :class:`PaddlePoseDataset` wraps a core ``PoseDataset`` (per-sample RNG from ``(seed, epoch, index)``). It
  accepts ``(epoch, index)`` pairs as keys, so the epoch travels with every index to the worker that builds the
  sample and persistent workers cannot use a stale epoch.
* :class:`ResumableDistributedBatchSampler` is a ``paddle.io.DistributedBatchSampler`` with the semantics of
  enhancenet-torch's ``ResumableDistributedSampler``: one permutation per epoch (from ``(seed, epoch)``, the same
  on every rank), padded by repetition to a multiple of the number of processes, rank ``r`` reading positions
  ``r, r + W, r + 2W, ...``, and the first ``skip_batches`` batches of an epoch skipped for an exact resume. It
  is used with one process too, so the order of a single-process run is the interleaved global order of a
  multi-process run with the same global batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import paddle
from paddle.io import DataLoader, Dataset, DistributedBatchSampler

from enhancenet_runtime.data import collate_samples

if TYPE_CHECKING:
    from enhancenet_runtime.data.records import PoseRecord

__all__ = [
    "PaddlePoseDataset",
    "ResumableDistributedBatchSampler",
    "build_loader",
    "build_pose_dataset",
    "epoch_permutation",
    "to_numpy",
]


def epoch_permutation(num_samples: int, seed: int, epoch: int) -> np.ndarray:
    """The global order of ``num_samples`` indices in ``epoch``: a permutation drawn from ``(seed, epoch)``."""
    return np.random.default_rng([int(seed), int(epoch)]).permutation(int(num_samples))


class PaddlePoseDataset(Dataset):
    """A ``paddle.io.Dataset`` over an enhancenet-core ``PoseDataset`` (or any object with ``__len__`` and
    ``__getitem__``, optionally ``sample(index, epoch)`` and ``set_epoch``).

    Items are the core sample dicts of NumPy arrays (:mod:`enhancenet_runtime.data.pipeline`): ``image``
    (3, H, W) float32, ``joints`` (K, 2), ``joints_vis`` (K,) and ``meta``; the loader's collate adds the batch's
    ``target_lr`` (B, K, h, w), ``target_weight_lr`` (B, K) and with the head ``target_hr``, ``target_weight_hr``.
    The key is an index, or an ``(epoch, index)`` pair as the batch sampler yields.
    """

    def __init__(self, core: Any) -> None:
        super().__init__()
        self.core = core

    def __len__(self) -> int:
        return len(self.core)

    @property
    def records(self) -> tuple[PoseRecord, ...]:
        """The person records of the wrapped core data set (``PoseDataset.records``); evaluation reads them
        (MPII's PCKh needs their head boxes)."""
        return self.core.records

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        if isinstance(key, tuple):
            epoch, index = (int(k) for k in key)
            if hasattr(self.core, "sample"):
                return self.core.sample(index, epoch)
            if hasattr(self.core, "set_epoch"):
                self.core.set_epoch(epoch)
            return self.core[index]
        return self.core[int(key)]

    def set_epoch(self, epoch: int) -> None:
        """Forward the epoch to the core dataset (used for plain integer keys)."""
        if hasattr(self.core, "set_epoch"):
            self.core.set_epoch(epoch)


class ResumableDistributedBatchSampler(DistributedBatchSampler):
    """Per-process batches of ``(epoch, index)`` keys in a seeded, epoch-dependent, resumable order.

    Args:
        dataset: the data set (only its length is used).
        batch_size: per-process batch size.
        num_replicas: number of processes (1 without distribution).
        rank: this process.
        shuffle: permute per epoch (:func:`epoch_permutation`); else the natural order.
        seed: the training seed (the same on every rank).
        drop_last: drop the last incomplete per-process batch (training).

    ``set_epoch(e)`` selects the epoch; ``set_skip_batches(n)`` makes the next iteration start after its first
    ``n`` batches (reset after one iteration).
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int,
        num_replicas: int = 1,
        rank: int = 0,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if int(batch_size) < 1:
            raise ValueError(f"batch_size: expected >= 1, got {batch_size}")
        if int(num_replicas) < 1 or not 0 <= int(rank) < int(num_replicas):
            raise ValueError(f"rank {rank} of {num_replicas} processes: expected 0 <= rank < num_replicas")
        super().__init__(dataset, batch_size, num_replicas=int(num_replicas), rank=int(rank), shuffle=shuffle,
                         drop_last=drop_last)
        self.seed = int(seed)
        self.skip_batches = 0
        # the padded global length and the per-rank share (as torch's DistributedSampler with drop_last=False)
        self.num_samples = math.ceil(len(dataset) / self.nranks)
        self.total_size = self.num_samples * self.nranks

    def set_skip_batches(self, skip_batches: int) -> None:
        """Skip this many batches at the start of the next iteration."""
        if int(skip_batches) < 0:
            raise ValueError(f"skip_batches: expected >= 0, got {skip_batches}")
        self.skip_batches = int(skip_batches)

    def rank_indices(self, epoch: int | None = None) -> np.ndarray:
        """The (num_samples,) indices this rank reads in ``epoch`` (default: the current one), before skipping."""
        e = self.epoch if epoch is None else int(epoch)
        n = len(self.dataset)
        order = epoch_permutation(n, self.seed, e) if self.shuffle else np.arange(n)
        if self.total_size > n:  # pad by repetition so every rank reads the same number of samples
            order = np.concatenate([order, np.resize(order, self.total_size - n)])
        return order[self.local_rank : self.total_size : self.nranks]

    def _batches(self) -> int:
        full, rest = divmod(self.num_samples, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        indices = self.rank_indices()
        skip, self.skip_batches = self.skip_batches, 0
        epoch = int(self.epoch)
        for b in range(skip, self._batches()):
            chunk = indices[b * self.batch_size : (b + 1) * self.batch_size]
            yield [(epoch, int(i)) for i in chunk]

    def __len__(self) -> int:
        return max(0, self._batches() - self.skip_batches)


def build_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    train: bool,
    workers: int = 0,
    seed: int = 0,
    num_replicas: int = 1,
    rank: int = 0,
) -> DataLoader:
    """A ``paddle.io.DataLoader`` over :class:`ResumableDistributedBatchSampler` and core collation.

    Training loaders are shuffled and drop the last incomplete batch; test loaders keep the natural order and
    every instance. Batches are dicts of tensors (``meta`` too; strings stay lists).
    """
    sampler = ResumableDistributedBatchSampler(
        dataset, batch_size, num_replicas=num_replicas, rank=rank, shuffle=train, seed=seed, drop_last=train
    )
    # the core data set's collate renders the batch's targets in one call; other data sets: plain stacking
    collate = getattr(getattr(dataset, "core", dataset), "collate", collate_samples)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=int(workers),
                      return_list=True, use_shared_memory=False)


def build_pose_dataset(cfg: Any, train: bool) -> PaddlePoseDataset:
    """The core ``PoseDataset`` of ``cfg``'s training or test split (:func:`enhancenet_runtime.engine.data.open_split`:
    missing files and empty splits raise its errors, naming the file or the split), wrapped for Paddle."""
    from enhancenet_runtime.engine.data import open_split

    return PaddlePoseDataset(open_split(cfg, train))


def to_numpy(value: Any) -> Any:
    """A batch value as NumPy (tensors converted; lists of strings unchanged)."""
    return value.numpy() if isinstance(value, paddle.Tensor) else value
