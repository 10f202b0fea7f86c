"""enhancenet_runtime.testing, the test support the frameworks' evaluation and CLI tests share: each check must
pass on a right answer and fail (AssertionError naming what differs) on a wrong one, and the oracle's table
must give what a hand-written loop gives."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from enhancenet_runtime.data import load_records
from enhancenet_runtime.testing import (
    CLI_VERBS,
    OracleMaps,
    assert_cli_error,
    assert_cli_eval_output,
    assert_flip_test,
    assert_help_lists_verbs,
    assert_hr_beats_lr,
    assert_pose_picture,
    assert_results_json,
    bad_data_cases,
    check_mpii_without_head_boxes_is_refused,
    check_oracle_mpii_pckh,
    coco_sample_layout,
    flip_permutation,
    mpii_sample_layout,
    oracle_coco_config,
    oracle_mpii_config,
    prediction_errors,
    set_args,
)

PAIRS = [(1, 2), (3, 4)]


def _table(rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    images = rng.random((4, 3, 6, 5)).astype(np.float32)
    images[2] = images[2][..., ::-1]  # still distinct from its own mirror
    maps = {"lr": rng.random((4, 5, 2, 3)).astype(np.float32), "hr": rng.random((4, 5, 8, 12)).astype(np.float32)}
    return images, maps


def test_flip_permutation_swaps_the_pairs_only() -> None:
    assert flip_permutation(6, PAIRS).tolist() == [0, 2, 1, 4, 3, 5]
    assert flip_permutation(3, []).tolist() == [0, 1, 2]


def test_oracle_maps_matches_a_hand_loop_for_plain_and_mirrored_patches() -> None:
    rng = np.random.default_rng(0)
    images, maps = _table(rng)
    oracle = OracleMaps(images, maps, PAIRS)
    order = [(3, False), (0, True), (2, True), (2, False), (1, False)]
    batch = np.stack([images[i][..., ::-1] if m else images[i] for i, m in order])
    out = oracle(batch)
    swap = [0, 2, 1, 4, 3]
    for key in ("lr", "hr"):
        assert out[key].dtype == np.float32 and out[key].flags.c_contiguous
        for b, (i, mirrored) in enumerate(order):
            expected = maps[key][i]
            if mirrored:  # by hand: channel c of the mirror is the swapped channel, columns reversed
                expected = np.stack([maps[key][i][swap[c]][:, ::-1] for c in range(5)])
            np.testing.assert_array_equal(out[key][b], expected)
    zero = OracleMaps(images, maps, PAIRS, zero=True)(batch)
    assert all(v.shape == out[k].shape and not v.any() for k, v in zero.items())


def test_oracle_maps_refuses_unknown_patches_and_bad_shapes() -> None:
    rng = np.random.default_rng(1)
    images, maps = _table(rng)
    oracle = OracleMaps(images, maps, PAIRS)
    with pytest.raises(AssertionError, match=r"unknown patch \(batch positions \[1\]\)"):
        oracle(np.stack([images[0], images[1] + 1e-3]))
    with pytest.raises(AssertionError, match="patches of shape"):
        oracle(images[:, :, :4])
    with pytest.raises(ValueError, match=r"maps\['hr'\]"):
        OracleMaps(images, {"hr": maps["hr"][:3]}, PAIRS)


def test_oracle_maps_from_a_dataset_of_samples() -> None:
    rng = np.random.default_rng(2)
    images, maps = _table(rng)
    samples = [{"image": images[i], "target_lr": maps["lr"][i]} for i in range(4)]  # no M^HR: LR only
    oracle = OracleMaps.from_dataset(samples, PAIRS)
    out = oracle(images[[1]])
    assert set(out) == {"lr"}
    np.testing.assert_array_equal(out["lr"][0], maps["lr"][1])


def _predictions(out_dir: Path, hr_offset: float, lr_offset: float) -> list[SimpleNamespace]:
    """Two records (K=3, one joint unlabelled) and predictions in reversed order, off by 3-4-5 triangles."""
    records = [
        SimpleNamespace(joints_xy=np.array([[10.0, 20.0], [30.0, 40.0], [0.0, 0.0]]), joints_vis=np.array([1, 1, 0])),
        SimpleNamespace(joints_xy=np.array([[5.0, 5.0], [6.0, 7.0], [8.0, 9.0]]), joints_vis=np.array([1, 1, 1])),
    ]
    index = np.array([1, 0])
    gt = np.stack([records[i].joints_xy for i in index])
    step = np.array([0.6, 0.8])  # unit length
    preds = np.concatenate([gt + hr_offset * step, np.ones((2, 3, 1))], axis=-1)
    preds_lr = np.concatenate([gt + lr_offset * step, np.ones((2, 3, 1))], axis=-1)
    preds[0, 2, :2] += 1000.0  # wrong, but on a joint of record 1 that is visible ...
    preds[1, 2, :2] += 1000.0  # ... and on the unlabelled joint of record 0, which must not count
    out_dir.mkdir()
    np.savez(out_dir / "predictions.npz", preds=preds, preds_lr=preds_lr, index=index)
    return records


def test_prediction_errors_against_hand_numbers(tmp_path: Path) -> None:
    records = _predictions(tmp_path / "ev", hr_offset=1.0, lr_offset=5.0)
    err_hr, err_lr = prediction_errors(tmp_path / "ev", records)
    # 5 visible joints: four off by 1 (HR) and one (record 1, joint 2) off by |(1000, 1000) + 0.6/0.8|
    far = np.hypot(1000.6, 1000.8)
    assert err_hr == pytest.approx((4 * 1.0 + far) / 5, rel=1e-12)
    assert err_lr == pytest.approx(5.0, rel=1e-12)


def test_hr_beats_lr_passes_and_fails(tmp_path: Path) -> None:
    good = SimpleNamespace(joints_xy=np.zeros((2, 2)), joints_vis=np.ones(2))
    for name, hr, lr in (("good", 0.5, 2.0), ("far", 1.6, 2.0), ("worse", 1.0, 0.5)):
        (tmp_path / name).mkdir()
        preds, preds_lr = np.zeros((1, 2, 3)), np.zeros((1, 2, 3))
        preds[..., 0], preds_lr[..., 0] = hr, lr  # off in x by hr / lr pixels
        np.savez(tmp_path / name / "predictions.npz", preds=preds, preds_lr=preds_lr, index=np.array([0]))
    assert_hr_beats_lr(tmp_path / "good", [good])
    with pytest.raises(AssertionError, match=r"HR error 1\.600 px, expected < 1\.5"):
        assert_hr_beats_lr(tmp_path / "far", [good])
    with pytest.raises(AssertionError, match="not below the LR error"):
        assert_hr_beats_lr(tmp_path / "worse", [good])


def test_flip_test_check(tmp_path: Path) -> None:
    base = np.random.default_rng(3).random((2, 4, 3)) * 50
    for name, delta in (("a", 0.0), ("b", 5e-7), ("c", 6.0), ("d", 1e-3), ("e", 4.0)):
        (tmp_path / name).mkdir()
        moved = base.copy()
        moved[1, 2, 0] += delta
        np.savez(tmp_path / name / "predictions.npz", preds=moved)
    assert_flip_test(tmp_path / "a", tmp_path / "b", tmp_path / "c")
    with pytest.raises(AssertionError, match="flip test moved"):
        assert_flip_test(tmp_path / "a", tmp_path / "d", tmp_path / "c")
    with pytest.raises(AssertionError, match=r"moved only 4\.000 px"):
        assert_flip_test(tmp_path / "a", tmp_path / "b", tmp_path / "e")


def test_results_json_check(tmp_path: Path) -> None:
    from enhancenet_runtime.engine.evaluation import write_evaluation

    cfg = oracle_coco_config(tmp_path)
    metrics = {"metric_name": "AP", "metric": 0.75}
    pred = {"preds": np.zeros((1, 17, 3))}
    write_evaluation(tmp_path, pred, metrics, cfg, framework="numpy", versions={"numpy": np.__version__},
                     checkpoint="w.safetensors")
    saved = assert_results_json(tmp_path, metrics, framework="numpy", versions={"numpy": np.__version__},
                                checkpoint="w.safetensors", input_size=[96, 128])
    assert saved["metric"] == 0.75
    wrong = [
        ({"framework": "torch"}, "framework 'numpy', expected 'torch'"),
        ({"versions": {"numpy": "0.0"}}, r"versions\['numpy'\]"),
        ({"versions": {"torch": np.__version__}}, r"versions\['torch'\] = None"),
        ({"checkpoint": None}, "checkpoint 'w.safetensors', expected None"),
        ({"input_size": [64, 64]}, "model.input_size"),
    ]
    base = {"framework": "numpy", "versions": {"numpy": np.__version__}, "checkpoint": "w.safetensors",
            "input_size": [96, 128]}
    for change, message in wrong:
        with pytest.raises(AssertionError, match=message):
            assert_results_json(tmp_path, metrics, **{**base, **change})
    with pytest.raises(AssertionError, match=r"AP=0\.75, returned AP=0\.5"):
        assert_results_json(tmp_path, {"metric_name": "AP", "metric": 0.5}, **base)


def test_cli_error_check() -> None:
    line = "enhancenet-x train: error: config file nope.yaml not found\n"
    assert assert_cli_error(2, line, "enhancenet-x", "nope.yaml", "not found") == line
    bad = [
        ((1, line), "exit status 1"),
        ((2, line), "does not name \\['upscale'\\]"),
        ((2, "enhancenet-y " + line), "does not start with"),
        ((2, line + "Traceback (most recent call last):\n"), "traceback"),
        ((2, line + "second line\n"), "one line"),
        ((2, line.rstrip("\n")), "one line"),
    ]
    for (code, err), message in bad:
        with pytest.raises(AssertionError, match=message):
            assert_cli_error(code, err, "enhancenet-x", *(("upscale",) if "upscale" in message else ()))


def test_help_lists_every_verb() -> None:
    assert_help_lists_verbs("{" + ",".join(CLI_VERBS) + "}")
    with pytest.raises(AssertionError, match=r"\['synth'\]"):
        assert_help_lists_verbs("train eval predict export")


def test_cli_eval_output_and_picture_checks(tmp_path: Path) -> None:
    record = {"metric_name": "AP", "metric": 0.5, "checkpoint": str(tmp_path / "c.pt"), "framework": "torch"}
    (tmp_path / "results.json").write_text(json.dumps(record))
    printed = json.dumps({"metric_name": "AP", "metric": 0.5})
    assert assert_cli_eval_output(printed, tmp_path, tmp_path / "c.pt", "torch") == record
    with pytest.raises(AssertionError, match="framework 'torch', expected 'paddle'"):
        assert_cli_eval_output(printed, tmp_path, tmp_path / "c.pt", "paddle")
    with pytest.raises(AssertionError, match=r"printed metric 0\.25"):
        assert_cli_eval_output(json.dumps({"metric_name": "AP", "metric": 0.25}), tmp_path, tmp_path / "c.pt", "torch")

    png = tmp_path / "pose.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(2000))
    png.with_suffix(".json").write_text(json.dumps({"keypoints_hr": np.zeros((2, 17, 3)).tolist(),
                                                    "keypoints_lr": np.zeros((2, 17, 3)).tolist()}))
    assert_pose_picture(png, num_boxes=2)
    with pytest.raises(AssertionError, match=r"keypoints_hr: shape \(2, 17, 3\), expected \(1, 17, 3\)"):
        assert_pose_picture(png, num_boxes=1)
    png.write_bytes(b"GIF89a" + bytes(2000))
    with pytest.raises(AssertionError, match="not a PNG"):
        assert_pose_picture(png, num_boxes=2)


def test_bad_data_copies(tmp_path: Path) -> None:
    synth = tmp_path / "synth"
    (synth / "annotations").mkdir(parents=True)
    (synth / "images" / "train").mkdir(parents=True)
    (synth / "images" / "train" / "0.png").write_bytes(b"x")
    ann = {"annotations": [{"keypoints": [1, 2, 2, 3, 4, 1], "num_keypoints": 2}], "images": []}
    (synth / "annotations" / "person_keypoints_train.json").write_text(json.dumps(ann))
    cases = bad_data_cases(synth, tmp_path / "work")
    assert [c[1][0] for c in cases] == ["image file", "train_set"]
    assert not any((tmp_path / "work" / "no_images" / "images" / "train").iterdir())
    stripped = json.loads((tmp_path / "work" / "no_keypoints" / "annotations" / "person_keypoints_train.json")
                          .read_text())["annotations"][0]
    assert stripped == {"keypoints": [0] * 6, "num_keypoints": 0}
    assert (synth / "annotations" / "person_keypoints_train.json").read_text() == json.dumps(ann)  # untouched
    assert cases[0][0][-len(set_args(tmp_path / "work" / "no_images")):] == set_args(tmp_path / "work" / "no_images")


def test_sample_layouts_read_back(tmp_path: Path, coco_sample_dir: Path, mpii_sample_dir: Path) -> None:
    coco = load_records(oracle_coco_config(coco_sample_layout(tmp_path / "coco", coco_sample_dir)), train=False)
    assert len(coco.records) > 0
    root = mpii_sample_layout(tmp_path / "mpii", mpii_sample_dir, head_boxes=True)
    entries = json.loads((root / "annot" / "valid.json").read_text())
    raw = json.loads((mpii_sample_dir / "test_mpii.json").read_text())
    assert len(entries) == len(raw)
    for entry, original in zip(entries, raw, strict=True):  # the box holds upper neck and head top, 0-based
        x1, y1, x2, y2 = entry["head_box"]
        for joint in (8, 9):
            x, y = np.asarray(original["joints"][joint]) - 1.0
            assert x1 < x < x2 and y1 <= y <= y2
    mpii = load_records(oracle_mpii_config(root), train=False)
    assert len(mpii.records) == len(raw) and all("head_box" in r.extras for r in mpii.records)
    bare = mpii_sample_layout(tmp_path / "bare", mpii_sample_dir, head_boxes=False)
    assert not any("head_box" in e for e in json.loads((bare / "annot" / "valid.json").read_text()))


def _fake_mpii_evaluate(oracle_pckh: float, zero_pckh: float, error: Exception | None = None):
    """An ``evaluate`` whose "network" is the ``zero`` flag: the PCKh it reports, or ``error`` raised."""
    def evaluate(cfg, network: bool, out_dir: Path, dataset) -> dict:
        if error is not None:
            raise error
        return {"metric_name": "PCKh@0.5", "metric": zero_pckh if network else oracle_pckh}
    return evaluate


def _zero_flag(dataset, flip_pairs, zero: bool) -> bool:
    return zero


def _records(cfg):
    return load_records(cfg, train=False).records


def test_mpii_scenarios_pass_on_right_answers_and_fail_on_wrong_ones(tmp_path: Path, mpii_sample_dir: Path) -> None:
    check_oracle_mpii_pckh(tmp_path / "a", mpii_sample_dir, _records, _fake_mpii_evaluate(97.0, 3.0), _zero_flag)
    with pytest.raises(AssertionError, match="network of zeros"):
        check_oracle_mpii_pckh(tmp_path / "b", mpii_sample_dir, _records, _fake_mpii_evaluate(97.0, 50.0), _zero_flag)
    with pytest.raises(AssertionError, match="oracle PCKh"):
        check_oracle_mpii_pckh(tmp_path / "c", mpii_sample_dir, _records, _fake_mpii_evaluate(80.0, 3.0), _zero_flag)

    refuse = _fake_mpii_evaluate(0, 0, ValueError("MPII needs head boxes (headboxes_src)"))
    check_mpii_without_head_boxes_is_refused(tmp_path / "d", mpii_sample_dir, _records, refuse, _zero_flag)
    with pytest.raises(AssertionError, match="accepted MPII annotations without head boxes"):
        check_mpii_without_head_boxes_is_refused(tmp_path / "e", mpii_sample_dir, _records,
                                                 _fake_mpii_evaluate(97.0, 3.0), _zero_flag)
    with pytest.raises(AssertionError, match="does not name the head boxes"):
        check_mpii_without_head_boxes_is_refused(tmp_path / "f", mpii_sample_dir, _records,
                                                 _fake_mpii_evaluate(0, 0, ValueError("bad file")), _zero_flag)
