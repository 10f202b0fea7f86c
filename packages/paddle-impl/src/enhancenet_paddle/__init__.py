"""enhancenet-paddle: EnhanceNet (belief-map enhancement for human pose estimation) in PaddlePaddle.

Subpackages and modules are imported by their users: ``enhancenet_paddle.models`` (base models, the EnhanceNet
head, ``build_model``), ``enhancenet_paddle.weights`` (canonical safetensors I/O and native ``.pdparams``),
``enhancenet_paddle.export`` (Paddle inference format, ONNX through paddle2onnx) and
``enhancenet_paddle.losses``. It never imports torch or mindspore.
"""

__version__ = "0.1.0"
