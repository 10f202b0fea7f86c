"""DistributedDataParallel on gloo, launched by torchrun: 2 processes × batch 2 == 1 process × batch 4."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from _toy import ToyDataset, toy_config, toy_model

from enhancenet_torch.checkpoint import load_checkpoint
from enhancenet_torch.train import train

TESTS_DIR = Path(__file__).resolve().parent

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    sys.path.insert(0, {tests!r})
    from _toy import ToyDataset, toy_config, toy_model
    from enhancenet_torch.train import train

    out = sys.argv[1]
    res = train(toy_config(epochs=2, batch_size=2), out, device="cpu", validate=False, progress=False,
                model_fn=toy_model, train_dataset=ToyDataset(8), tensorboard=False)
    if os.environ["RANK"] == "0":
        with open(os.path.join(out, "losses.json"), "w") as fh:
            json.dump({{"losses": res.losses, "world": int(os.environ["WORLD_SIZE"])}}, fh)
    """
)


@pytest.mark.slow
def test_two_process_gloo_matches_single_process(tmp_path: Path) -> None:
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT.format(tests=str(TESTS_DIR)))
    out_ddp = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script),
         str(out_ddp)],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    ddp = json.loads((out_ddp / "losses.json").read_text())
    assert ddp["world"] == 2

    single = train(toy_config(epochs=2, batch_size=4), tmp_path / "single", device="cpu", validate=False,
                   progress=False, model_fn=toy_model, train_dataset=ToyDataset(8), tensorboard=False)
    assert len(single.losses) == len(ddp["losses"]) == 4  # 8 samples / global batch 4, 2 epochs
    # the loss of every step (all-reduced mean over ranks) equals the loss over the same global batch
    assert ddp["losses"] == pytest.approx(single.losses, rel=1e-5, abs=1e-7)
    # and so do the weights after 4 steps with averaged gradients
    a = load_checkpoint(out_ddp / "checkpoint_last.safetensors")
    b = load_checkpoint(tmp_path / "single" / "checkpoint_last.safetensors")
    assert a["world_size"] == 2 and len(a["rng"]) == 2
    for name, tensor in b["model"].items():
        torch.testing.assert_close(a["model"][name], tensor, rtol=1e-5, atol=1e-6, msg=name)
    # the comparison can fail: a single process with half the global batch sees other data
    half = train(toy_config(epochs=2, batch_size=2), tmp_path / "half", device="cpu", validate=False,
                 progress=False, model_fn=toy_model, train_dataset=ToyDataset(8), tensorboard=False)
    assert half.losses[0] != pytest.approx(single.losses[0], rel=1e-5)
