"""enhancenet-torch: EnhanceNet (belief-map enhancement for human pose estimation) in PyTorch.

Subpackages and modules are imported lazily by their users: ``enhancenet_torch.models`` (base models, the
EnhanceNet head, ``build_model``), ``enhancenet_torch.weights`` (canonical safetensors I/O),
``enhancenet_torch.export`` (ONNX), and the training / evaluation modules.
"""

__version__ = "0.1.0"
