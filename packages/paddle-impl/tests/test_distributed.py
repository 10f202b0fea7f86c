"""Data parallel on CPU (gloo), launched by ``paddle.distributed.launch``: 2 processes × batch 2 == 1 × batch 4."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from _train_toy import ToyDataset, toy_config, toy_model

from enhancenet_paddle.checkpoint import load_checkpoint
from enhancenet_paddle.train import train

TESTS_DIR = Path(__file__).resolve().parent

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    sys.path.insert(0, {tests!r})
    from _train_toy import ToyDataset, toy_config, toy_model
    from enhancenet_paddle.train import train

    out = sys.argv[1]
    res = train(toy_config(epochs=2, batch_size=2), out, device="cpu", validate=False, progress=False,
                model_fn=toy_model, train_dataset=ToyDataset(8))
    if os.environ["PADDLE_TRAINER_ID"] == "0":
        with open(os.path.join(out, "losses.json"), "w") as fh:
            json.dump({{"losses": res.losses, "world": int(os.environ["PADDLE_TRAINERS_NUM"])}}, fh)
    """
)


@pytest.mark.slow
def test_two_process_gloo_matches_single_process(tmp_path: Path) -> None:
    script = tmp_path / "dp_train.py"
    script.write_text(SCRIPT.format(tests=str(TESTS_DIR)))
    out_dp = tmp_path / "dp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("CUDA_VISIBLE_DEVICES", None)  # an empty list makes the launcher index an empty device list
    proc = subprocess.run(
        [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node=2", "--log_dir",
         str(tmp_path / "logs"), str(script), str(out_dp)],
        env=env, capture_output=True, text=True, timeout=300, cwd=str(tmp_path),
    )
    logs = "".join(p.read_text() for p in sorted((tmp_path / "logs").glob("workerlog.*"))) if proc.returncode else ""
    assert proc.returncode == 0, (proc.stderr[-3000:], logs[-3000:])
    dp = json.loads((out_dp / "losses.json").read_text())
    assert dp["world"] == 2

    single = train(toy_config(epochs=2, batch_size=4), tmp_path / "single", device="cpu", validate=False,
                   progress=False, model_fn=toy_model, train_dataset=ToyDataset(8))
    assert len(single.losses) == len(dp["losses"]) == 4  # 8 samples / global batch 4, 2 epochs
    # the loss of every step (all-reduced mean over ranks) equals the loss over the same global batch
    assert dp["losses"] == pytest.approx(single.losses, rel=1e-5, abs=1e-7)
    # and so do the weights after 4 steps with averaged gradients
    a = load_checkpoint(out_dp / "checkpoint_last.safetensors")
    b = load_checkpoint(tmp_path / "single" / "checkpoint_last.safetensors")
    assert a["world_size"] == 2 and len(a["rng"]) == 2
    for name, tensor in b["model"].items():
        np.testing.assert_allclose(a["model"][name].numpy(), tensor.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)
    # the comparison can fail: a single process with half the global batch sees other data
    half = train(toy_config(epochs=2, batch_size=2), tmp_path / "half", device="cpu", validate=False,
                 progress=False, model_fn=toy_model, train_dataset=ToyDataset(8))
    assert half.losses[0] != pytest.approx(single.losses[0], rel=1e-5)
