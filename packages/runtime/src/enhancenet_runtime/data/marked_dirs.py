"""Directories the synthetic-data generator owns: marked at creation, the only ones ``--overwrite`` may delete.

Every data set :func:`enhancenet_runtime.data.synthetic.generate_synthetic_coco` writes carries a
:data:`MARKER_NAME` file at its root (JSON: the generator, its version, the seed and the parameters). Replacing
an existing directory requires that marker, so ``synth DIR --overwrite`` never deletes a directory someone else
made (a home directory, a real COCO copy, an older unmarked set). The work directories a killed run leaves beside
the target (``.<name>.tmp-*`` / ``.<name>.old-*``) are removed by the next run, again only when marked.
"""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["MARKER_NAME", "is_ours", "remove_stale_work_dirs"]

#: the file every generated data set carries at its root
MARKER_NAME = ".enhancenet-synthetic"


def is_ours(path: Path) -> bool:
    """A real directory (not a link) holding :data:`MARKER_NAME`."""
    return path.is_dir() and not path.is_symlink() and (path / MARKER_NAME).is_file()


def remove_stale_work_dirs(out: Path) -> list[Path]:
    """Remove the work directories a killed run left beside ``out`` (``.<name>.tmp-*``, ``.<name>.old-*``) that
    carry the marker (themselves or in the ``data`` they hold); returns them."""
    removed = []
    for pattern in (f".{out.name}.tmp-*", f".{out.name}.old-*"):
        for d in sorted(out.parent.glob(pattern)):
            if not d.is_symlink() and (is_ours(d) or is_ours(d / "data")):
                shutil.rmtree(d, ignore_errors=True)
                removed.append(d)
    return removed
