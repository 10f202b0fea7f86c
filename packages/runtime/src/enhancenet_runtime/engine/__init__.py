"""Framework-free machinery shared by every implementation's training, evaluation and CLI.

Each framework package only runs its network; everything around it lives here once:

* :mod:`.io`: atomic writes (bytes, JSON), the git commit and package versions of a result;
* :mod:`.data`: the core data set of a split, with the error for an empty one;
* :mod:`.evaluation`: flip-test merging, decoding LR/HR maps to image coordinates (through the codecs of
  :mod:`enhancenet_core.codecs`), collecting predictions, COCO AP / MPII PCKh from them, ``results.json``, and the
  evaluate tail every framework calls (``finish_evaluation``);
* :mod:`.prediction`: the one prediction path: the flip test around a framework's ``forward``/``flip`` hooks, the
  batch loop over a test set, and person boxes in one image (``BoxPredictions``);
* :mod:`.inference`: one-call inference (``inference_topdown``, ``PoseResult``), the body of every framework's
  ``inference_topdown`` / ``init_model``;
* :mod:`.logs`: the resumable CSV training log and the progress bar;
* :mod:`.checkpointing`: the architecture a training checkpoint records, and the check on load;
* :mod:`.training`: the training loop's bookkeeping (position, best model, checkpoint fields, CSV rows, ``max_steps``
  and ``checkpoint_every``), with the framework's step, data and serialisation as hooks;
* :mod:`.loss`: which loss term uses which map loss (Eq. 8: intermediate stages, OHKM after EnhanceNet, η),
  with the framework's MSE/OHKM passed in;
* :mod:`.cli`: the verbs and flags every ``enhancenet-<framework>`` command shares;
* :mod:`.benchmark`: the framework-free part of the model benchmarks (``benchmarks/*/bench_models.py``): setting
  and shapes, options, round-robin timing, JSON fields, the printed table, the JSON file;
* :mod:`.visualize`: person crops and the Fig. 1-style picture (skeletons from M^LR and M^HR, heat maps side by
  side).

The canonical weight file is :mod:`enhancenet_core.canonical`.
"""
