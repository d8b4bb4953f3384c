"""`python app.py compare ...` and `gallery experiments` as a script would call them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from gallery.image_reader import read_metadata
from tests.ui.cli.app_runner import run_app

SMALL = ("--steps", "1", "--width", "64", "--height", "64")


@pytest.fixture(scope="module")
def data_dir(models_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-data")
    (folder / "models").symlink_to(models_dir, target_is_directory=True)
    return folder


@pytest.mark.slow
def test_compare_writes_sheet_and_cells_records_and_lists_the_experiment(data_dir, tmp_path):
    out = tmp_path / "out"
    done = run_app(
        "compare", "--variant", "a red fox", "--variant", "a blue fox", "--label", "red",
        "--seeds", "3,4", "--axis", "cfg=2,6", *SMALL, "--out", str(out), data_dir=data_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("experiment ")
    experiment_id = int(last.split()[1])
    assert "not meaningful" not in done.stderr  # the shipped sketch CLIP scores them
    sheet = Image.open(out / "contact_sheet.png")
    assert sheet.width > 4 * 64
    cells = sorted(p.name for p in (out / "cells").iterdir())
    assert len(cells) == 8 and "r2-v2-a2-seed4.png" in cells
    meta = read_metadata((out / "cells" / "r2-v2-a2-seed4.png").read_bytes())
    assert meta.prompt == "a blue fox"
    assert meta.settings["seed"] == 4 and meta.settings["guidance_scale"] == 6.0

    listed = run_app("gallery", "experiments", data_dir=data_dir)
    assert listed.returncode == 0, listed.stderr
    line = next(x for x in listed.stdout.splitlines() if x.startswith(f"#{experiment_id} "))
    assert "red | a blue fox" in line and "8 image(s)" in line
    as_json = json.loads(run_app("gallery", "experiments", "--json", data_dir=data_dir).stdout)
    entry = next(e for e in as_json if e["id"] == experiment_id)
    assert entry["variants"] == ["red", "a blue fox"]
    assert entry["axis"] == {"name": "cfg", "values": [2.0, 6.0]}


def run_in_process(capsys, *args: str, data_dir: Path) -> tuple[int, str, str]:
    from ui.cli.main import main

    code = main(["--data-dir", str(data_dir), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_ablate_prints_terms_ranked(data_dir, tmp_path, capsys):
    code, out, err = run_in_process(
        capsys, "compare", "--ablate", "a fox, snow, golden hour", "--seeds", "5", *SMALL,
        "--out", str(tmp_path / "ab"), data_dir=data_dir,
    )  # fmt: skip
    assert code == 0, err
    assert out.strip().startswith("experiment ")
    ranked = [x for x in err.splitlines() if "±" in x]
    code, listed, _ = run_in_process(capsys, "gallery", "scores", data_dir=data_dir)
    values = [float(line.split()[2]) for line in listed.splitlines()]
    assert code == 0 and len(values) >= 4 and values == sorted(values, reverse=True)
    assert "(not meaningful)" not in listed  # scored by the shipped sketch CLIP
    assert sorted(x.split("±")[1].split(None, 1)[1] for x in ranked) == [
        "a fox",
        "golden hour",
        "snow",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--variant", "only one"), "2 to 8 --variant"),
        (("--variant", "a", "--variant", "b", "--seeds", "1,x"), "not a whole number"),
        (("--variant", "a", "--variant", "b", "--axis", "colour=red"), "NAME=V1,V2"),
        (("--variant", "a", "--variant", "b", "--width", "70"), "multiple of 8"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(data_dir, tmp_path, capsys, args, message):
    code, _, err = run_in_process(
        capsys, "compare", *args, *SMALL[:2], "--out", str(tmp_path), data_dir=data_dir
    )
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_gallery_experiments_says_which_are_interrupted(tmp_path, capsys):
    """An experiment whose run ended with cells missing is listed as interrupted N of M."""
    from gallery.owners import LOCAL_OWNER
    from gallery.records import VariantSpec
    from gallery.store import GalleryStore
    from ui.settings import gallery_dir

    with GalleryStore.open(gallery_dir(tmp_path)) as store:
        local = store.for_owner(LOCAL_OWNER)
        specs = [VariantSpec(label, {"prompt": f"a {label} fox"}) for label in ("red", "blue")]
        local.create_experiment("cut short", specs, seeds=[1, 2])
    code, out, err = run_in_process(capsys, "gallery", "experiments", data_dir=tmp_path)
    assert code == 0, err
    assert "compare  interrupted, 0 of 4 cells  red | blue" in out
    code, out, err = run_in_process(capsys, "gallery", "experiments", "--json", data_dir=tmp_path)
    [entry] = json.loads(out)
    assert (entry["state"], entry["images"], entry["cells_expected"]) == ("interrupted", 0, 4)


@pytest.mark.parametrize("command", ["compare", "generate"])
def test_an_out_that_is_a_file_is_refused_before_anything_runs(data_dir, tmp_path, command):
    taken = tmp_path / "picture.png"
    taken.write_bytes(b"not a folder")
    prompts = ["--variant", "a", "--variant", "b"] if command == "compare" else ["a fox"]
    done = run_app(command, *prompts, *SMALL, "--out", str(taken), data_dir=data_dir)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == (
        f"python app.py {command}: error: argument --out: {taken} is a file; --out takes a folder"
    )
    assert "Traceback" not in done.stderr and taken.read_bytes() == b"not a folder"


@pytest.mark.slow
def test_an_out_that_cannot_be_written_is_one_line_and_the_experiment_is_kept(data_dir, tmp_path):
    (tmp_path / "file").write_bytes(b"")
    out = tmp_path / "file" / "sheet"  # a folder inside a file: mkdir fails after the run
    done = run_app(
        "compare", "--variant", "a", "--variant", "b", "--seeds", "1", *SMALL, "--out", str(out),
        data_dir=data_dir,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"error: Cannot write to {out}: Not a directory; the experiment is ")
    kept = line.rsplit(" ", 1)[-1].rstrip(".")
    listed = run_app("gallery", "experiments", data_dir=data_dir)
    assert f"#{kept} " in listed.stdout
