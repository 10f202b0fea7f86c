"""``enhancenet-spec`` sub-commands called through ``main([...])``: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from enhancenet_core.config import list_shipped_configs, shipped_config_path
from enhancenet_runtime.cli import main


def test_validate_ok_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "coco_hrnet_w32_256x192_enhancenet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK: coco_hrnet_w32_256x192_enhancenet")
    assert "hrnet (W32)" in out and "K=17" in out
    assert "L=3, C=128, r=4" in out and "M^HR 256x192" in out


def test_validate_ok_by_path_with_set(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(shipped_config_path("mpii_hourglass_4stage_256x256_enhancenet.yaml"))
    assert main(["validate", path, "--set", "model.head.upscale=2", "--set", "model.head.channels=64"]) == 0
    out = capsys.readouterr().out
    assert "hourglass (4 stages)" in out and "K=16" in out
    assert "C=64, r=2" in out and "M^HR 128x128" in out


def test_validate_base_model_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "coco_simplebaseline_r50_256x192_base"]) == 0
    assert "head:     none" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "path"),
    [
        (["--set", "model.head.upscale=0"], "model.head.upscale"),
        (["--set", "model.num_keypoints=0"], "model.num_keypoints"),
        (["--set", "model.head.upsampler=foo"], "model.head.upsampler"),
        (["--set", "model.input_size=[190, 256]"], "model.input_size[0]"),
        (["--set", "model.head.upscal=2"], "model.head.upscal"),
    ],
)
def test_validate_invalid_exit_2(capsys: pytest.CaptureFixture[str], args: list[str], path: str) -> None:
    assert main(["validate", "synthetic_quick", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"error: invalid config: {path}: " in captured.err


def test_validate_bad_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  base:\n    depth: 42\n", encoding="utf-8")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "model.base.depth" in err and "[18, 34, 50, 101, 152]" in err and str(bad) in err

    broken = tmp_path / "broken.yaml"
    broken.write_text("model: {head: [\n", encoding="utf-8")
    assert main(["validate", str(broken)]) == 2
    assert "malformed YAML" in capsys.readouterr().err

    assert main(["validate", str(tmp_path / "absent.yaml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_schema_stdout_and_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["additionalProperties"] is False
    out = tmp_path / "s" / "schema.json"
    assert main(["schema", "--out", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8")) == schema


def test_list_configs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list-configs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list_shipped_configs()
    assert any(line.startswith("synthetic_quick.yaml") and "CPU smoke run" in line for line in lines)
    assert main(["list-configs", "--all"]) == 0
    assert "_coco_256x192.yaml" in capsys.readouterr().out


def test_complexity_table(capsys: pytest.CaptureFixture[str]) -> None:
    """Paper's Table 5: SimpleBaseline-R50 + EnhanceNet (C=128, r=4, sub-pixel) = 0.50M, 1.52 GFLOPs."""
    assert main(["complexity", "coco_simplebaseline_r50_256x192_enhancenet"]) == 0
    out = capsys.readouterr().out
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert "0.50M" in total and total.rstrip().endswith("1.52")
    assert "F^LR 256 + M^LR 17 = 273 channels" in out
    for layer in ("conv1", "conv2", "conv3", "pixel_shuffle"):
        assert layer in out


def test_complexity_set_matches_table5d(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["complexity", "coco_simplebaseline_r50_256x192_enhancenet", "--set", "model.head.upscale=5"]) == 0
    total = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("total"))
    assert "0.67M" in total and total.rstrip().endswith("2.06")  # Table 5d, r = 5


def test_complexity_json_and_feature_channels(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["complexity", "coco_hrnet_w32_256x192_enhancenet", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["feature_channels"] == 32 and data["input_channels"] == 32 + 17
    assert data["rows"][0]["in_channels"] == 49
    assert main(["complexity", "coco_hrnet_w32_256x192_enhancenet", "--json", "--feature-channels", "256"]) == 0
    data256 = json.loads(capsys.readouterr().out)
    assert data256["input_channels"] == 273
    assert round(data256["total"]["gflops"], 2) == 1.52  # same head and map size as Table 5
    assert data256["total"]["params"] > data["total"]["params"]


def test_complexity_disabled_head(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["complexity", "coco_hrnet_w48_256x192_base"]) == 0
    assert "disabled" in capsys.readouterr().out


def test_complexity_invalid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["complexity", "synthetic_quick", "--set", "model.head.upscale=0"]) == 2
    assert "model.head.upscale" in capsys.readouterr().err
    assert main(["complexity", "synthetic_quick", "--feature-channels", "0"]) == 2
    assert "--feature-channels" in capsys.readouterr().err


def test_usage_errors_exit_2() -> None:
    for argv in ([], ["frobnicate"], ["validate"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2


def _bad_file_cases(tmp: Path) -> list[tuple[Path, tuple[str, ...]]]:
    """(file, words its one error line must hold): each a hostile input that once gave a traceback, ran for
    minutes or was accepted silently."""
    def write(name: str, data: str | bytes) -> Path:
        path = tmp / name
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        return path

    return [
        (write("garbage.yaml", bytes(range(256)) * 16), ("expected UTF-8 text",)),
        (write("latin1.yaml", b"train:\n  optimizer: sgd # caf\xe9\n"), ("UTF-8", "0xe9")),
        (write("nested.yaml", "a: " + "[" * 5000 + "]" * 5000 + "\n"), ("brackets nested deeper than",)),
        (write("nested.json", '{"a": ' + "[" * 50000 + "]" * 50000 + "}"), ("malformed JSON", "nested deeper than")),
        (write("big.yaml", "train:\n  seed: 1\n" + "# padding\n" * 200_000), ("larger than", "256 KiB")),
        (write("dup.yaml", "train:\n  seed: 1\n  seed: 2\n"), ("duplicate key 'seed'", "line 3", "line 2")),
        (write("seed.yaml", f"train:\n  seed: {2**40}\n"), ("train.seed", "<= 4294967295")),
        (write("neg.yaml", "train:\n  seed: -1\n"), ("train.seed", ">= 0")),
    ]


@pytest.mark.parametrize("index", range(8))
def test_validate_hostile_files_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], index: int) -> None:
    path, words = _bad_file_cases(tmp_path)[index]
    assert main(["validate", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: invalid config: ") and captured.err.count("\n") == 1, captured.err
    for word in (path.name, *words):
        assert word in captured.err, captured.err


def test_unwritable_schema_out_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    assert main(["schema", "--out", str(blocker / "schema.json")]) == 2  # a file where a directory should be
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1 and str(blocker) in captured.err


def test_bad_arguments_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["validate", "synthetic_quick", "--sett", "x=1"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--sett" in err and err.startswith("enhancenet-spec: error: "), err


def test_overlong_config_name_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "x" * 5000 + ".yaml"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1 and "too long" in captured.err


def test_programming_errors_are_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only config/file problems become exit 2; a bug keeps its traceback."""
    import enhancenet_runtime.cli as cli

    def broken(*args: object, **kwargs: object) -> None:
        raise TypeError("a bug")

    monkeypatch.setattr(cli, "load_config", broken)
    with pytest.raises(TypeError, match="a bug"):
        main(["validate", "synthetic_quick"])
