"""A trusted pickle of arrays loads; one that names any other callable is refused without running it."""

from __future__ import annotations

import os
import pickle
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from enhancenet_core.restricted_pickle import is_allowed_global, load_array_pickle


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_arrays_dicts_and_scalars_load(tmp_path: Path) -> None:
    state = OrderedDict(w=np.arange(6, dtype=np.float32).reshape(2, 3), n=np.int64(3), meta={"a": [1, "x"]})
    path = tmp_path / "s.pdparams"
    path.write_bytes(pickle.dumps(state, protocol=4))
    got = load_array_pickle(path)
    assert list(got) == ["w", "n", "meta"] and got["w"].dtype == np.float32
    assert np.array_equal(got["w"], state["w"]) and got["n"] == 3 and got["meta"] == {"a": [1, "x"]}


def test_a_payload_is_refused_unrun_in_one_line(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.pdparams"
    path.write_bytes(pickle.dumps({"w": _Payload(marker)}))
    with pytest.raises(ValueError, match=r"evil\.pdparams: refers to posix\.mkdir") as info:
        load_array_pickle(path)
    assert not marker.exists() and "\n" not in str(info.value)
    assert not is_allowed_global("builtins", "eval") and is_allowed_global("numpy.dtypes", "Float32DType")


def test_a_truncated_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "cut.pdparams"
    path.write_bytes(pickle.dumps({"w": np.zeros(4)})[:20])
    with pytest.raises(ValueError, match=r"cut\.pdparams: not a readable pickle"):
        load_array_pickle(path)
