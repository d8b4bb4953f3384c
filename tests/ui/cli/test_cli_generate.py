"""`python app.py generate` as a script would call it: files, seeds, the gallery, exit codes."""

import errno
import json
from pathlib import Path

import pytest
from PIL import Image

from tests.ui.cli.app_runner import run_app


@pytest.fixture(scope="module")
def data_dir(models_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-data")
    (folder / "models").symlink_to(models_dir, target_is_directory=True)
    return folder


def generate(data_dir: Path, out: Path, seed: int) -> Path:
    done = run_app(
        "generate", "a red fox", "--model", "demo", "--seed", str(seed), "--steps", "2",
        "--width", "64", "--height", "64", "--out", str(out), data_dir=data_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.split()[0])
    assert path.parent == out and path.is_file()
    assert f"seed={seed}" in done.stdout
    return path


@pytest.mark.slow
def test_same_command_twice_writes_byte_identical_pngs_and_never_overwrites(data_dir, tmp_path):
    """The same command twice into one --out: the second PNG takes the next free name, has
    the first's exact bytes, and the first (edited by the artist meanwhile) is left alone."""
    first = generate(data_dir, tmp_path / "out", 7)
    made = first.read_bytes()
    first.write_bytes(made + b"edited by the artist")
    edited = first.read_bytes()
    second = generate(data_dir, tmp_path / "out", 7)
    other = generate(data_dir, tmp_path / "other", 8)
    assert second != first and second.name == f"{first.stem}-2.png"
    assert second.read_bytes() == made
    assert first.read_bytes() == edited
    assert other.read_bytes() != made


@pytest.mark.slow
def test_the_png_carries_its_settings_and_lands_in_the_gallery(data_dir, tmp_path):
    path = generate(data_dir, tmp_path / "out", 31)
    text = Image.open(path).text
    assert "Seed: 31" in text["parameters"] and "Steps: 2" in text["parameters"]
    assert json.loads(text["prompt_atelier"])["generation"]["seed"] == 31
    found = run_app("gallery", "search", "fox", "--seed", "31", "--json", data_dir=data_dir)
    assert found.returncode == 0, found.stderr
    assert "31" in found.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--width", "65"], "multiple of 8"),
        (["--model", "./missing"], "No model folder"),
        (["--steps", "0"], "Steps"),
    ],
)
def test_bad_input_exits_2_with_one_line(data_dir, tmp_path, args, message):
    done = run_app("generate", "a fox", "--out", str(tmp_path), *args, data_dir=data_dir)
    assert done.returncode == 2
    error_lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and message in error_lines[0]
    assert not list(tmp_path.glob("*.png"))


@pytest.mark.slow
def test_the_largest_seed_clip_skip_and_a_karras_scheduler(data_dir, tmp_path):
    done = run_app(
        "generate", "a red fox", "--seed", "18446744073709551615", "--clip-skip", "2",
        "--scheduler", "DPM++ 2M SDE Karras", "--steps", "2", "--width", "64", "--height", "64",
        "--out", str(tmp_path), data_dir=data_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "seed=18446744073709551615" in done.stdout
    text = Image.open(done.stdout.split()[0]).text["parameters"]
    assert "Seed: 18446744073709551615" in text and "Clip skip: 2" in text
    assert "Sampler: DPM++ 2M SDE, Schedule type: Karras" in text
    found = run_app(
        "gallery", "search", "--seed", "18446744073709551615", "--json", data_dir=data_dir
    )
    assert found.returncode == 0 and "18446744073709551615" in found.stdout, found.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seed", "18446744073709551616"], "Seed must be"),
        (["--seed", "lucky"], "Seed must be"),
        (["--seed", "18446744073709551615", "--batch", "2"], "at most 18446744073709551614"),
        (["--clip-skip", "13"], "Clip skip"),
    ],
)
def test_bad_seeds_and_clip_skips_exit_2_with_one_line(data_dir, tmp_path, args, message):
    done = run_app("generate", "a fox", "--out", str(tmp_path), *args, data_dir=data_dir)
    assert done.returncode == 2
    error_lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and message in error_lines[0], done.stderr


@pytest.mark.slow
def test_a_broken_gallery_is_a_warning_and_the_png_is_kept(models_dir, tmp_path):
    from ui.settings import gallery_dir

    data = tmp_path / "data"
    data.mkdir()
    (data / "models").symlink_to(models_dir, target_is_directory=True)
    gallery = gallery_dir(data)
    gallery.mkdir(parents=True)
    (gallery / "atelier.db").write_bytes(b"this is not a database" * 100)
    done = run_app(
        "generate", "a red fox", "--seed", "3", "--steps", "2", "--width", "64", "--height", "64",
        "--out", str(tmp_path / "out"), data_dir=data,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "not recorded in the gallery" in warnings[0]
    assert "Traceback" not in done.stderr
    assert Path(done.stdout.split()[0]).is_file()


@pytest.mark.slow
def test_gallery_reproduce_says_identical_for_a_demo_record(data_dir, tmp_path):
    done = run_app(
        "generate", "a red fox", "--seed", "12", "--scheduler", "DPM++ SDE Karras",
        "--steps", "2", "--width", "64", "--height", "64", "--out", str(tmp_path),
        data_dir=data_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    generation_id = done.stderr.split("recorded in the gallery as #")[1].split()[0]
    again = run_app("gallery", "reproduce", generation_id, data_dir=data_dir)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"#{generation_id}: identical (largest difference 0)."


def test_write_new_file_takes_the_next_free_name(tmp_path):
    from ui.cli.generate import write_new_file

    paths = [write_new_file(tmp_path / "fox-7.png", bytes([n])) for n in range(3)]
    assert [p.name for p in paths] == ["fox-7.png", "fox-7-2.png", "fox-7-3.png"]
    assert [p.read_bytes() for p in paths] == [b"\x00", b"\x01", b"\x02"]


def test_write_new_file_on_a_full_disk_leaves_no_partial_file(tiny_disk):
    """A real full disk (a 16 MB tmpfs filled to its last byte): the write fails with ENOSPC
    and neither the final name nor the temporary one is left behind."""
    from ui.cli.generate import write_new_file

    out = tiny_disk.path / "out"
    out.mkdir()
    tiny_disk.fill()
    with pytest.raises(OSError) as raised:
        write_new_file(out / "fox-7.png", b"\x89PNG" + bytes(64 * 1024))
    assert raised.value.errno == errno.ENOSPC
    assert list(out.iterdir()) == []


@pytest.mark.slow
def test_out_on_a_full_disk_is_one_line_no_partial_png_and_the_gallery_keeps_them(
    data_dir, tiny_disk
):
    out = tiny_disk.path / "out"
    out.mkdir()
    tiny_disk.fill()
    done = run_app(
        "generate", "a fox on a full disk", "--seed", "5", "--steps", "2", "--width", "64",
        "--height", "64", "--out", str(out), "--quiet", data_dir=data_dir,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if not line.startswith("note: ")]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: The disk is full: the images do not fit in ")
    assert "MB left" in lines[0] and "They are in the gallery as #" in lines[0]
    assert list(out.iterdir()) == []  # no truncated PNG, no temporary file
    found = run_app("gallery", "search", "full disk", "--json", data_dir=data_dir)
    assert found.returncode == 0 and '"seed": 5' in found.stdout, found.stdout


THIRD_PARTY_NOISE = ("torchvision", "Writing model shards", "Loading", "it/s]", "Warning")


@pytest.mark.slow
def test_quiet_prints_only_our_own_lines(tmp_path):
    """A fresh data folder (the demo model is built: transformers writes its shards), then a
    generation: with --quiet nothing but our notes; without it our step bar and still none of
    transformers' or diffusers' warnings and bars."""
    data = tmp_path / "data"
    args = ["generate", "a red fox", "--seed", "3", "--steps", "2", "--width", "64"]
    args += ["--height", "64", "--out", str(tmp_path / "out")]
    quiet = run_app(*args, "--quiet", data_dir=data)
    assert quiet.returncode == 0, quiet.stderr
    lines = quiet.stderr.splitlines()
    assert lines and all(line.startswith(("note: ", "recorded in the gallery")) for line in lines)
    loud = run_app(*args, data_dir=data)
    assert loud.returncode == 0, loud.stderr
    assert "] 2/2" in loud.stderr  # the progress the user asked for
    for noise in THIRD_PARTY_NOISE:
        assert noise not in quiet.stderr and noise not in loud.stderr, noise


def test_a_hub_id_that_cannot_be_had_is_the_only_line_on_stderr(data_dir, tmp_path):
    """Offline, an unknown hub id: one sentence; no library warning with a path of ours."""
    done = run_app(
        "generate", "a fox", "--model", "nobody/no-such-model", "--out", str(tmp_path),
        data_dir=data_dir,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: Model 'nobody/no-such-model' is not in the local cache and could not be "
        "fetched from the Hugging Face hub (OSError)."
    ]


def test_a_device_torch_does_not_know_is_one_line(data_dir, tmp_path):
    done = run_app(
        "generate", "a fox", "--device", "banana", "--out", str(tmp_path), data_dir=data_dir
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: Unknown device 'banana'; choose cuda, mps or cpu (or cuda:N)."
    ]
