"""Test suites that every framework package runs, written once: only the framework binding differs.

Each suite is a class whose name does not start with ``Test`` (so pytest does not collect it here); a framework's
test module collects it by subclassing, and the framework's ``tests/conftest.py`` provides the ``binding``
fixture: an object with the attributes the suite's ``Binding`` protocol names (the framework's functions and
classes, how it turns a NumPy array into a tensor and back, its file suffixes, its tolerances). For example::

    # packages/torch-impl/tests/test_losses.py
    from enhancenet_runtime.suites.losses import LossSuite

    class TestLosses(LossSuite):
        '''The shared loss suite with torch's binding (conftest.py).'''

The suites import no framework (the runtime never does): every framework call goes through the binding, so
one file holds each assertion, and a framework cannot drift from the others unnoticed. What only one framework
has (GRAPH_MODE, an export format, its name table) stays in that framework's tests. This is test code: it imports
pytest (the runtime's ``test`` extra), and :mod:`.head` and :mod:`.models` import enhancenet-numpy, the
reference they hold every model to (installed wherever a framework is; the import contract allows only that).

- :mod:`.losses`: JointsMSELoss / JointsOHKMLoss / EnhanceNetLoss against hand-computed numbers.
- :mod:`.head`: the EnhanceNet head in every configuration against enhancenet-numpy.
- :mod:`.models`: base models (+ head) against enhancenet-numpy; bad inputs and configurations.
- :mod:`.names`: canonical tensor names, shapes and order of every architecture.
- :mod:`.ae`: the bottom-up AE hourglass against enhancenet-numpy, its names, and its loss against the spec's.
- :mod:`.cli`: the command line end to end on a tiny synthetic set, and bad input (exit 2, one line).
- :mod:`.no_pickle`: every loader path refuses a crafted pickle in one line, its payload unrun (torch, paddle).
- :mod:`.training`: short training runs (synthetic set: learns; COCO sample: checkpoints, logs, validation).
"""
