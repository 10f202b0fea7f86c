"""enhancenet-runtime: the framework-free runtime around the spec (:mod:`enhancenet_core`).

Everything an implementation needs besides its network, written once: data readers, augmentation and the
synthetic data set (:mod:`.data`), the training loop, evaluation, prediction, the shared CLI verbs,
visualisation and the benchmark harness (:mod:`.engine`), the converter front end (:mod:`.convert`), the
``enhancenet-spec`` command (:mod:`.cli`), test helpers (:mod:`.testing`) and the publish gate (:mod:`.gate`).
NumPy and OpenCV only; never imports a deep-learning framework.
"""

__version__ = "0.1.0"
