"""Fuzz ``enhancenet-spec eval-mpii GT PREDS --head-sizes|--head-boxes``: damaged files are refused."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
from _fuzzkit import FUZZ, assert_refused, byte_damage, dump_json
from hypothesis import given
from hypothesis import strategies as st

from enhancenet_runtime.cli import main

N, J = 4, 16
BAD_NUMBER = st.sampled_from([math.nan, math.inf, -math.inf])


def _gt() -> list:
    return [{"joints": [[100.0 + 10 * j + n, 200.0 + 5 * j] for j in range(J)], "joints_vis": [1] * J,
             "image": f"{n:09d}.jpg", "center": [300.0, 300.0], "scale": 3.0} for n in range(N)]


def _preds() -> np.ndarray:
    return np.asarray([[[100.0 + 10 * j + n + 2, 200.0 + 5 * j] for j in range(J)] for n in range(N)])


def _sizes() -> np.ndarray:
    return np.full(N, 40.0)


def _index(data) -> tuple[int, int, int]:
    return data.draw(st.integers(0, N - 1)), data.draw(st.integers(0, J - 1)), data.draw(st.integers(0, 1))


def _pred_nonfinite(f, data):
    n, j, c = _index(data)
    f["preds"][n, j, c] = data.draw(BAD_NUMBER)


def _pred_shape(f, data):
    shape = data.draw(st.sampled_from([(N - 1, J, 2), (N + 1, J, 2), (N, J - 1, 2), (N, J, 4), (N, J), (N * J * 2,)]))
    f["preds"] = np.ones(shape)


def _size_bad(f, data):
    f["sizes"][data.draw(st.integers(0, N - 1))] = data.draw(st.one_of(BAD_NUMBER, st.floats(max_value=0.0)))


def _size_count(f, data):
    f["sizes"] = np.full(data.draw(st.sampled_from([0, 1, N - 1, N + 1, 2 * N])), 40.0)


def _boxes(f, data):
    f["sizes"] = None
    f["boxes"] = np.ones(data.draw(st.sampled_from([(N, 4), (N, 3, 2), (N - 1, 2, 2), (N, 2)]))) * 10


def _gt_joint(f, data):
    n, j, c = _index(data)
    f["gt"][n]["joints"][j][c] = data.draw(BAD_NUMBER)


def _gt_entry(f, data):
    n = data.draw(st.integers(0, N - 1))
    key = data.draw(st.sampled_from(["joints", "joints_vis"]))
    f["gt"][n][key] = data.draw(st.sampled_from([None, "x", [], [[1, 2]] * 15, [1] * 17]))


def _gt_shape(f, data):
    f["gt"] = data.draw(st.sampled_from([[], {"joints": []}, "x", [1, 2]]))


DAMAGE = {
    "non-finite prediction": (["pred", "finite", "nan", "inf"], _pred_nonfinite),
    "prediction shape": (["pred", "shape"], _pred_shape),
    "head size <= 0 or non-finite": (["head"], _size_bad),
    "head size count": (["head"], _size_count),
    "head boxes shape": (["head", "box"], _boxes),
    "non-finite GT joint": (["ground truth", "joints", "finite"], _gt_joint),
    "GT entry damaged": (["ground truth", "joints"], _gt_entry),
    "GT not a list of people": (["ground truth"], _gt_shape),
}


def _run(damage: str, data, file_damage=None) -> None:
    files = {"gt": _gt(), "preds": _preds(), "sizes": _sizes(), "boxes": None}
    names = ["mpii_gt", "mpii_preds", "head_sizes", "head_boxes"]
    what = damage
    if file_damage is None:
        names += DAMAGE[damage][0]
        DAMAGE[damage][1](files, data)
    with tempfile.TemporaryDirectory(prefix="fuzz-mpii-") as tmp:
        d = Path(tmp)
        gt, preds = d / "mpii_gt.json", d / "mpii_preds.npy"
        dump_json(gt, files["gt"])
        np.save(preds, files["preds"])
        argv = ["eval-mpii", str(gt), str(preds)]
        if files["sizes"] is not None:
            dump_json(d / "head_sizes.json", files["sizes"].tolist())
            argv += ["--head-sizes", str(d / "head_sizes.json")]
        else:
            np.save(d / "head_boxes.npy", files["boxes"])
            argv += ["--head-boxes", str(d / "head_boxes.npy")]
        if file_damage is not None:
            target = data.draw(st.sampled_from(["mpii_gt.json", "head_sizes.json"]))
            names = [target.split(".")[0]]
            what = f"{target}: {damage}"
            (d / target).write_bytes(file_damage((d / target).read_bytes()))
        assert_refused("mpii files" if file_damage else "mpii", main, argv, d, names, what)


@FUZZ
@given(damage=st.sampled_from(sorted(DAMAGE)), data=st.data())
def test_fuzz_mpii(damage: str, data) -> None:
    _run(damage, data)


@FUZZ
@given(damage=st.sampled_from(sorted(byte_damage())), data=st.data())
def test_fuzz_mpii_files(damage: str, data) -> None:
    _run(damage, data, byte_damage()[damage])


SURVEY = {"mpii": (DAMAGE, _run),
          "files": (byte_damage(), lambda damage, data: _run(damage, data, byte_damage()[damage]))}


def test_the_clean_inputs_are_accepted(tmp_path: Path) -> None:
    """The base every damage starts from is valid (else the refusals above would prove nothing)."""
    gt, preds, sizes = tmp_path / "gt.json", tmp_path / "preds.npy", tmp_path / "sizes.json"
    dump_json(gt, _gt())
    np.save(preds, _preds())
    dump_json(sizes, _sizes().tolist())
    assert main(["eval-mpii", str(gt), str(preds), "--head-sizes", str(sizes)]) == 0
