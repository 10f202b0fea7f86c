"""Package hygiene: enhancenet-paddle never imports torch or mindspore (checked in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys


def test_no_other_framework_is_imported() -> None:
    code = (
        "import sys, warnings; warnings.simplefilter('ignore')\n"
        "import enhancenet_paddle, enhancenet_paddle.models, enhancenet_paddle.weights, "
        "enhancenet_paddle.export, enhancenet_paddle.losses\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'mindspore', 'enhancenet_torch', "
        "'enhancenet_mindspore', 'enhancenet_numpy'))\n"
        "print(','.join(bad))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().splitlines()[-1:] in ([""], []), f"imported: {res.stdout.strip()}"
