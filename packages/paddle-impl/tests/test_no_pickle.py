"""No file a user passes is unpickled: the shared suite (:mod:`enhancenet_runtime.suites.no_pickle`) with
Paddle's binding (conftest.py: ``.pdparams`` / ``.pdckpt`` / ``.pt`` names, and ``load_pdparams``)."""

from __future__ import annotations

from enhancenet_runtime.suites.no_pickle import NoPickleSuite


class TestNoPickle(NoPickleSuite):
    """eval / predict / export, resume, the converters and the weight readers refuse pickles, payloads unrun."""
