"""The pickle refusal of enhancenet_core.safetensors_io: never unpickles, one line, and a conversion hint only for
the pickle files the converter can read behind --trust-pickle."""

from __future__ import annotations

import pickle

import pytest

from enhancenet_core.safetensors_io import PickleRefusedError, check_not_pickle


def _pickle_file(path):
    path.write_bytes(pickle.dumps({"w": [1.0, 2.0]}))
    return path


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".pdparams"])
def test_convertible_pickles_get_the_convert_command(tmp_path, suffix):
    path = _pickle_file(tmp_path / f"model{suffix}")
    with pytest.raises(PickleRefusedError) as info:
        check_not_pickle(path)
    text = str(info.value)
    assert "\n" not in text
    assert f"enhancenet-convert {path} {tmp_path / 'model'}.safetensors --trust-pickle" in text


@pytest.mark.parametrize("suffix", [".pdckpt", ".pkl"])
def test_other_pickles_are_not_sent_to_a_converter_that_cannot_read_them(tmp_path, suffix):
    path = _pickle_file(tmp_path / f"checkpoint_last{suffix}")
    with pytest.raises(PickleRefusedError) as info:
        check_not_pickle(path)
    text = str(info.value)
    assert "\n" not in text and str(path) in text
    assert "enhancenet-convert " + str(path) not in text
    assert ".pt/.pth/.pdparams" in text


def test_a_safetensors_file_passes(tmp_path):
    import numpy as np

    from enhancenet_core.safetensors_io import save_safetensors

    path = save_safetensors(tmp_path / "w.safetensors", {"w": np.zeros(2, np.float32)})
    check_not_pickle(path)  # no error
