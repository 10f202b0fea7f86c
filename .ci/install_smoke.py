"""What a user does first with a freshly installed ``enhancenet-<framework>`` (run by ``nox -s install_check``
with the interpreter of the fresh virtualenv; not part of any package).

1. the installed code is the one in this virtualenv (not the checkout), in the version of the wheel in dist/;
   ``enhancenet-<framework> --version`` and ``enhancenet-convert --version`` name the installed versions;
2. a randomly initialised model of the shipped ``synthetic_quick`` config saved as canonical safetensors through
   the Python API;
3. ``enhancenet-<framework> predict`` on a COCO sample image with a box of its annotation file;
4. ``enhancenet-convert`` canonical -> the framework's own format -> canonical, each with ``--verify``; the
   tensors that come back equal the ones that went in.

Exits non-zero, naming the step, on the first failure. Standard library only at the top: runs before anything
is known to work.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

NATIVE_SUFFIX = {"torch": ".pt", "paddle": ".pdparams", "mindspore": ".ckpt"}
SHARED = Path(os.environ.get("ENHANCENET_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def _step(title: str) -> None:
    print(f"[install_smoke] {title}", flush=True)


def _run(*cmd: str, cwd: Path) -> str:
    """Run a command, echo its output, fail with its exit status."""
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    print(proc.stdout + proc.stderr, end="", flush=True)
    if proc.returncode != 0:
        sys.exit(f"[install_smoke] FAILED (exit {proc.returncode}): {' '.join(cmd)}")
    return proc.stdout


def _script(name: str) -> str:
    path = Path(sys.executable).parent / name
    if not path.is_file():
        sys.exit(f"[install_smoke] FAILED: console script {name} not installed in {path.parent}")
    return str(path)


def check_installed(framework: str, dist: Path, work: Path) -> None:
    """Our distributions import from this virtualenv's site-packages, in the version of dist/'s wheels."""
    from importlib import import_module, metadata

    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    for dist_name in ("enhancenet-core", "enhancenet-runtime", f"enhancenet-{framework}"):
        module = import_module(dist_name.replace("-", "_"))
        where = Path(module.__file__).resolve()
        if site not in where.parents:
            sys.exit(f"[install_smoke] FAILED: {dist_name} imported from {where}, not from {site}")
        version = metadata.version(dist_name)
        wheel = dist / f"{dist_name.replace('-', '_')}-{version}-py3-none-any.whl"
        if not wheel.is_file():
            sys.exit(f"[install_smoke] FAILED: {dist_name} {version} installed, but dist/ has no {wheel.name}")
        print(f"{dist_name} {version} from {where.parent}")
    for dist_name, cli in ((f"enhancenet-{framework}", f"enhancenet-{framework}"),
                           ("enhancenet-runtime", "enhancenet-convert")):
        out = _run(_script(cli), "--version", cwd=work)
        if not out.startswith(f"{cli} {metadata.version(dist_name)}"):
            sys.exit(f"[install_smoke] FAILED: `{cli} --version` printed {out.strip()!r}")


def random_weights(framework: str, work: Path) -> Path:
    """A randomly initialised model of the shipped synthetic_quick config, saved through the Python API."""
    code = f"""
from enhancenet_core.config import load_config, shipped_config_path
from enhancenet_{framework}.models import build_model
from enhancenet_{framework}.weights import save_canonical
cfg = load_config(shipped_config_path("synthetic_quick"))
save_canonical(build_model(cfg.model), "random.safetensors", cfg.model)
"""
    _run(sys.executable, "-c", code, cwd=work)
    return work / "random.safetensors"


def predict(framework: str, weights: Path, work: Path) -> None:
    """``predict`` on the first COCO sample image with the first annotated person's box."""
    coco = SHARED / "coco_sample"
    ann = json.loads((coco / "test_coco.json").read_text())
    person = next(a for a in ann["annotations"] if a.get("num_keypoints", 0) > 0)
    image = next(i for i in ann["images"] if i["id"] == person["image_id"])
    box = ",".join(f"{v:.1f}" for v in person["bbox"])
    out = work / "predict" / "pose.png"
    out.parent.mkdir()
    _run(_script(f"enhancenet-{framework}"), "predict", "synthetic_quick", str(weights),
         str(coco / image["file_name"]), "--boxes", box, "--out", str(out), "--device", "cpu", cwd=work)
    written = sorted(p.name for p in out.parent.iterdir())
    if not written or any((out.parent / n).stat().st_size == 0 for n in written):
        sys.exit(f"[install_smoke] FAILED: predict wrote {written} in {out.parent}")
    print(f"predict wrote {written}")


def convert(framework: str, weights: Path, work: Path) -> None:
    """canonical -> native -> canonical with ``--verify``; the round trip gives back the same tensors."""
    from safetensors.numpy import load_file

    native = work / f"random{NATIVE_SUFFIX[framework]}"
    back = work / "back.safetensors"
    convert_cli = _script("enhancenet-convert")
    _run(convert_cli, str(weights), str(native), "--verify", cwd=work)
    # the native .pt / .pdparams is a pickle we wrote a line above: reading it back needs the explicit opt-in that
    # every pickle needs (without it the converter refuses it, as it must refuse a user's)
    trust = ("--trust-pickle",) if NATIVE_SUFFIX[framework] in (".pt", ".pdparams") else ()
    _run(convert_cli, str(native), str(back), "--verify", *trust, cwd=work)
    first, second = load_file(str(weights)), load_file(str(back))
    if sorted(first) != sorted(second):
        sys.exit(f"[install_smoke] FAILED: the round trip changed the tensor names "
                 f"({sorted(set(first) ^ set(second))[:5]})")
    changed = [k for k in first if not (first[k] == second[k]).all()]
    if changed:
        sys.exit(f"[install_smoke] FAILED: the round trip changed {len(changed)} tensors, e.g. {changed[:3]}")
    print(f"conversion round trip: {len(first)} tensors bit-exact")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("framework", choices=sorted(NATIVE_SUFFIX))
    parser.add_argument("--dist", type=Path, required=True, help="the dist/ directory the wheels came from")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix=f"install-smoke-{args.framework}-"))
    try:
        _step("installed distributions and --version")
        check_installed(args.framework, args.dist.resolve(), work)
        _step("random weights through the Python API")
        weights = random_weights(args.framework, work)
        _step("predict on a COCO sample image")
        predict(args.framework, weights, work)
        _step("convert canonical -> native -> canonical")
        convert(args.framework, weights, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _step(f"enhancenet-{args.framework}: all checks passed")


if __name__ == "__main__":
    main()
