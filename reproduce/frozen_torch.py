"""The frozen-base experiment's PyTorch half (``python -m reproduce.frozen_torch``; torch's interpreter only).

A converged base model is frozen: its F^LR and M^LR on the training and val sets are computed once (one forward
pass each, no augmentation) and kept; then only the EnhanceNet head trains, seed after seed, on those cached maps,
so a step costs the head alone. Every head is scored on the same base: M^HR decoded against M^LR decoded, the only
difference being the head. Nothing here computes a metric: the predictions of every seed go to one ``.npz`` that
:mod:`reproduce.frozen` (framework-free) scores.

Training samples a crop per instance instead of the whole map, because the head's cost is in its upscaling layer at
every LR position and most of the map is background: the loss region is ``patch x patch`` LR pixels around a random
labelled joint (uniform jitter of ± patch/4), and the head sees that region plus its receptive-field halo, cut from
the maps zero-padded by the halo. Inside the loss region the head's output equals its full-map output except in the
outermost ``halo`` LR pixels of the map (the full map pads each layer's input with zeros, the crop pads only the
first). Evaluation runs the head on the full maps.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from enhancenet_core.config import Config, load_config, shipped_config_path
from enhancenet_runtime.engine.io import atomic_write_json
from enhancenet_runtime.engine.prediction import predict_dataset
from enhancenet_torch.data import build_loader, build_pose_dataset
from enhancenet_torch.models.head import EnhanceNet
from enhancenet_torch.models.pose_model import build_model

__all__ = ["cache_maps", "crop_batch", "head_halo", "main", "train_head"]

#: Overrides for caching: one plain crop per instance, the maps the base sees at test time (no flip test, so both
#: decodings read one map each).
CACHE_OVERRIDES: tuple[str, ...] = ("data.augmentation.flip=false", "data.augmentation.scale_factor=0",
                                    "data.augmentation.rotation_factor=0", "test.flip_test=false")


def head_halo(head: EnhanceNet) -> int:
    """LR pixels of context one output position of the head reads on each side (sum of k // 2 over its layers)."""
    halo = sum(conv.kernel_size[0] // 2 for conv in head.convs)
    k = head.upsample.kernel_size[0]
    return halo + k // 2


@torch.no_grad()
def cache_maps(model: torch.nn.Module, cfg: Config, train: bool, batch_size: int = 32) -> dict[str, np.ndarray]:
    """F^LR (N, C_F, h, w), M^LR (N, K, h, w) of every instance of a split, with (train) ``target_hr``
    (N, K, rh, rw) and ``weight_hr`` (N, K), or (val) the instance ``meta`` arrays the decoder needs."""
    dataset = build_pose_dataset(cfg, train=train)
    loader = build_loader(dataset, batch_size, train=False, workers=0)
    model.eval()
    parts: dict[str, list[np.ndarray]] = {}
    for b in loader:
        out = model.base(b["image"])
        got = {"features": out[0].numpy(), "lr": out[1].numpy()}
        if train:
            got["target_hr"] = b["target_hr"].numpy()
            got["weight_hr"] = b["target_weight_hr"].numpy().reshape(len(b["image"]), -1)
        else:
            got.update({f"meta_{k}": np.asarray(v) for k, v in b["meta"].items()})
        for k, v in got.items():
            parts.setdefault(k, []).append(v)
    return {k: np.concatenate(v) for k, v in parts.items()}


def crop_batch(padded: torch.Tensor, y0: torch.Tensor, x0: torch.Tensor, size: int) -> torch.Tensor:
    """``padded[i, :, y0[i]:y0[i]+size, x0[i]:x0[i]+size]`` for every i: (B, C, size, size) from (B, C, H, W)."""
    ar = torch.arange(size)
    rows = (y0[:, None] + ar)[:, None, :, None]
    cols = (x0[:, None] + ar)[:, None, None, :]
    b = torch.arange(padded.shape[0])[:, None, None, None]
    c = torch.arange(padded.shape[1])[None, :, None, None]
    return padded[b, c, rows, cols]


def train_head(cfg: Config, cache: dict[str, np.ndarray], seed: int, steps: int, batch: int, patch: int,
               lr: float) -> tuple[EnhanceNet, list[float]]:
    """Train a fresh head (seeded) on the cached training maps; returns it and the loss every 10 % of the steps.

    The loss is HRNet's: 0.5 · mean over joints and pixels of ((M^HR - target) · target_weight)², over the crop.
    """
    torch.manual_seed(seed)
    gen = np.random.default_rng(seed)
    feats = torch.from_numpy(cache["features"])
    maps = torch.from_numpy(cache["lr"])
    target = torch.from_numpy(cache["target_hr"])
    weight = torch.from_numpy(cache["weight_hr"])
    head = EnhanceNet(cfg.model.head, feats.shape[1], maps.shape[1])
    r, halo = head.upscale, head_halo(head)
    pad = (halo, halo, halo, halo)
    fp, mp = F.pad(feats, pad), F.pad(maps, pad)
    n, k, h, w = maps.shape
    # the LR pixel of each labelled joint: the peak of its HR target / r
    peak = target.reshape(n, k, -1).argmax(-1).numpy()
    jy, jx = (peak // target.shape[-1]) // r, (peak % target.shape[-1]) // r
    labelled = weight.numpy() > 0
    pairs = np.argwhere(labelled)  # (instance, joint) of every labelled joint
    if pairs.size == 0:
        raise ValueError("frozen base: the training set has no labelled joint")
    p = min(patch, h, w)
    opt = torch.optim.Adam(head.parameters(), lr=lr)
    losses: list[float] = []
    head.train()
    for step in range(steps):
        pick = pairs[gen.integers(len(pairs), size=batch)]
        i = pick[:, 0]
        jit = gen.integers(-(p // 4), p // 4 + 1, size=(batch, 2))
        y0 = np.clip(jy[i, pick[:, 1]] - p // 2 + jit[:, 0], 0, h - p)
        x0 = np.clip(jx[i, pick[:, 1]] - p // 2 + jit[:, 1], 0, w - p)
        it, yt, xt = torch.from_numpy(i), torch.from_numpy(y0), torch.from_numpy(x0)
        side = p + 2 * halo
        out = head(crop_batch(fp[it], yt, xt, side), crop_batch(mp[it], yt, xt, side))
        out = out[:, :, halo * r:(halo + p) * r, halo * r:(halo + p) * r]
        tgt = crop_batch(target[it], yt * r, xt * r, p * r)
        loss = 0.5 * ((out - tgt) * weight[it][:, :, None, None]).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % max(1, steps // 10) == 0:
            losses.append(loss.item())
    return head, losses


@torch.no_grad()
def _predict(cfg: Config, head: EnhanceNet | None, val: dict[str, np.ndarray], batch: int = 64
             ) -> dict[str, np.ndarray]:
    """Decoded predictions of the val instances: M^HR of ``head`` (``preds``) and M^LR (``preds_lr``)."""
    if head is not None:
        head.eval()
    n = len(val["lr"])
    meta_keys = [k for k in val if k.startswith("meta_")]

    def batches() -> Any:
        for s in range(0, n, batch):
            yield slice(s, s + batch), {k[5:]: val[k][s:s + batch] for k in meta_keys}

    def infer(sl: slice) -> dict[str, np.ndarray]:
        m = torch.from_numpy(val["lr"][sl])
        out = {"lr": m.numpy()}
        if head is not None:
            out["hr"] = head(torch.from_numpy(val["features"][sl]), m).numpy()
        return out

    return predict_dataset(batches(), infer, cfg, total=-(-n // batch), progress=False)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="reproduce.frozen_torch", description=__doc__.split("\n\n")[0])
    p.add_argument("config")
    p.add_argument("--set", dest="sets", action="append", default=[], help="config override key=value")
    p.add_argument("--seeds", type=int, nargs="+", required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--patch", type=int, default=8, help="loss region side in LR pixels")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, required=True, help="directory for frozen.npz and frozen.json")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = load_config(shipped_config_path(args.config), [*args.sets, *CACHE_OVERRIDES])
    if not cfg.model.head.enabled:
        raise SystemExit("reproduce.frozen_torch: model.head.enabled must be true (the head is what trains)")
    t0 = time.perf_counter()
    model = build_model(cfg.model)  # the base from model.base.pretrained (scope base); its head is unused
    train_cache = cache_maps(model, cfg, train=True)
    val_cache = cache_maps(model, cfg, train=False)
    cache_seconds = time.perf_counter() - t0
    base_pred = _predict(cfg, None, val_cache)
    preds_hr, losses, seconds = [], {}, {}
    for seed in args.seeds:
        t = time.perf_counter()
        head, losses[seed] = train_head(cfg, train_cache, seed, args.steps, args.batch, args.patch, args.lr)
        preds_hr.append(_predict(cfg, head, val_cache)["preds"])
        seconds[seed] = round(time.perf_counter() - t, 2)
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = args.out / "frozen.tmp.npz"
    np.savez(tmp, preds_hr=np.stack(preds_hr), preds_lr=base_pred["preds_lr"], image_id=base_pred["image_id"],
             center=base_pred["center"], scale=base_pred["scale"], seeds=np.asarray(args.seeds))
    tmp.replace(args.out / "frozen.npz")
    atomic_write_json(args.out / "frozen.json", {
        "seeds": args.seeds, "steps": args.steps, "batch": args.batch, "patch": args.patch, "lr": args.lr,
        "train_instances": len(train_cache["lr"]), "val_instances": len(val_cache["lr"]),
        "cache_seconds": round(cache_seconds, 2), "seconds_per_seed": seconds, "losses": losses,
        "seconds": round(time.perf_counter() - t0, 2)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
