"""enhancenet-core: the framework-neutral spec of EnhanceNet.

Config schema, coordinate conventions, Gaussian targets, the pixel-shuffle mapping of Eq. 5,
decoders, metrics (PCKh, COCO OKS AP) and parameter/FLOP accounting. NumPy only; never imports a
deep-learning framework.
"""

__version__ = "0.1.0"
