"""Back end of ``enhancenet-convert`` for Paddle (run by :mod:`enhancenet_runtime.convert` as a subprocess).

The parser and the convert / verify flows are :mod:`enhancenet_runtime.engine.convert_backend`'s; this module
supplies only what is Paddle's (:data:`PADDLE_IO`): the model, the ``.pdparams`` file and the forward pass.

    python -m enhancenet_paddle.convert convert SRC DST [--model-config JSON] [--trust-pickle]
    python -m enhancenet_paddle.convert verify WEIGHTS --out DIR [--seed S] [--model-config JSON] [--trust-pickle]

``SRC`` / ``DST``: ``.safetensors`` (canonical; as ``SRC`` also a training checkpoint, whose model weights are
taken) or ``.pdparams`` (pickle: read only with ``--trust-pickle``, which unpickles it), read and written by
:mod:`enhancenet_paddle.weights` (``load_canonical`` / ``save_canonical`` / ``load_pdparams`` /
``save_pdparams``), which check every tensor's name and shape, and the recorded architecture, before loading.
``verify`` loads the weights, runs the model in eval mode on ``N(0, 1)`` input (1, 3, H, W) drawn by NumPy from
``--seed`` (the same input every back end draws) and saves ``lr.npy`` / ``hr.npy`` (float32) in ``DIR``.
Exit status 2 with the error on stderr when refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import paddle

from enhancenet_paddle.checkpoint import load_model_weights
from enhancenet_paddle.models import PoseModel, build_model
from enhancenet_paddle.weights import (
    load_canonical,
    load_pdparams,
    load_trusted_pickle,
    save_canonical,
    save_pdparams,
)
from enhancenet_runtime.engine.convert_backend import FrameworkIO

PDPARAMS_SUFFIX = ".pdparams"


def _pdparams_model_config(path: Path) -> str | None:
    """The model configuration JSON a trusted ``.pdparams`` of :func:`save_pdparams` records (None: none).
    Reached only behind ``--trust-pickle``."""
    state = load_trusted_pickle(path)
    info = state.get("__enhancenet__") if isinstance(state, dict) else None
    return info.get("model_config") if isinstance(info, dict) else None


def _forward(model: PoseModel, x: np.ndarray) -> dict[str, np.ndarray]:
    model.eval()
    with paddle.no_grad():
        out = model(paddle.to_tensor(x))
    return {k: out[k].numpy() for k in ("lr", "hr") if k in out}


PADDLE_IO = FrameworkIO(
    prog="enhancenet_paddle.convert",
    native_suffixes=(PDPARAMS_SUFFIX,),
    build_model=build_model,
    load_canonical=load_canonical,
    save_canonical=save_canonical,
    # reached only after the back end's check: a .pdparams source needs --trust-pickle
    load_native=lambda model, path, cfg: load_pdparams(model, path, cfg, trust_pickle=True),
    save_native=save_pdparams,
    native_model_config=_pdparams_model_config,
    forward=_forward,
    setup=lambda: paddle.set_device("cpu"),
    load_checkpoint_weights=load_model_weights,
)


# the public functions of every converter back end, bound to this framework
build = PADDLE_IO.build
load_any = PADDLE_IO.load_any
save_any = PADDLE_IO.save_any
convert = PADDLE_IO.convert
verify_outputs = PADDLE_IO.verify_outputs
main = PADDLE_IO.main


if __name__ == "__main__":
    raise SystemExit(main())
