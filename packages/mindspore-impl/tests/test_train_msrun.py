"""Data parallel through ``msrun`` on CPU: 2 worker processes with per-rank batch 2 give the same losses and
weights as one process with batch 4 over the same global batches (MindSpore's CPU collectives; gradient mean by
``nn.DistributedGradReducer``). Tolerance 1e-6: float32 sums are reduced in another order (measured ~1.5e-8)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _toy import ToyDataset, toy_config, toy_model

from enhancenet_mindspore.checkpoint import load_checkpoint
from enhancenet_mindspore.train import train

SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import mindspore as ms
ms.set_context(mode=ms.PYNATIVE_MODE, device_target="CPU")
from _toy import ToyDataset, toy_config, toy_model
from enhancenet_mindspore.train import train
r = train(toy_config(epochs=1, batch_size=2), sys.argv[1], device="cpu", validate=False, progress=False,
          model_fn=toy_model, train_dataset=ToyDataset(8))
print("LOSSES", r.step, *r.losses, flush=True)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_two_workers_equal_one_process_with_the_global_batch(tmp_path: Path) -> None:
    bindir = Path(sys.executable).parent
    msrun = shutil.which("msrun", path=str(bindir)) or shutil.which("msrun")
    if msrun is None:
        pytest.skip("msrun (MindSpore's launcher) is not installed next to this interpreter")
    script = tmp_path / "dp.py"
    script.write_text(SCRIPT.format(tests=str(Path(__file__).resolve().parent)))
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [msrun, "--worker_num=2", "--local_worker_num=2", f"--master_port={_free_port()}",
         f"--log_dir={tmp_path / 'logs'}", "--join=True", str(script), str(tmp_path / "dp")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    logs = {p.name: p.read_text(errors="replace") for p in (tmp_path / "logs").glob("worker_*.log")}
    assert proc.returncode == 0, proc.stderr[-2000:] + "".join(v[-2000:] for v in logs.values())
    lines = [line.split()[1:] for text in logs.values() for line in text.splitlines() if line.startswith("LOSSES")]
    assert len(lines) == 2 and lines[0] == lines[1]  # both ranks log the all-reduced loss
    steps, *losses = lines[0]
    assert int(steps) == 2  # 8 samples, 2 ranks × batch 2 -> 2 steps (one process with batch 2 would take 4)

    single = train(toy_config(epochs=1, batch_size=4), tmp_path / "single", device="cpu", validate=False,
                   progress=False, model_fn=toy_model, train_dataset=ToyDataset(8))
    np.testing.assert_allclose([float(v) for v in losses], single.losses, rtol=1e-6)
    a = load_checkpoint(tmp_path / "dp" / "checkpoint_last.ckpt")
    b = load_checkpoint(tmp_path / "single" / "checkpoint_last.ckpt")
    assert a["world_size"] == 2 and b["world_size"] == 1
    for name, value in a["tensors"].items():
        np.testing.assert_allclose(value, b["tensors"][name], atol=1e-6, err_msg=name)
