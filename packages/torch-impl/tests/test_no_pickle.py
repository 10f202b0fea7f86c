"""No file a user passes is unpickled: the shared suite (:mod:`enhancenet_runtime.suites.no_pickle`) with
PyTorch's binding (conftest.py: a pickle where the checkpoint should be, and an old ``checkpoint_last.pt``)."""

from __future__ import annotations

from enhancenet_runtime.suites.no_pickle import NoPickleSuite


class TestNoPickle(NoPickleSuite):
    """eval / predict / export, resume, the converters and the weight readers refuse pickles, payloads unrun."""
