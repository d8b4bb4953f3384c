"""`python app.py gallery ...` as a newcomer types it: `list` as well as `search`, and
`import` given one picture instead of a folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from tests.ui.cli.app_runner import ROOT, run_app


def picture(path: Path, colour: tuple[int, int, int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 32), colour).save(path)
    return path


def test_import_takes_one_picture_and_list_shows_it(tmp_path):
    data = tmp_path / "data"
    one = picture(tmp_path / "in" / "one.png", (200, 10, 10))
    picture(tmp_path / "in" / "other.png", (10, 200, 10))
    done = run_app("gallery", "import", str(one), data_dir=data)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == (
        "imported 1 (1 PNG), skipped 0 already in the gallery, 0 failed, 1 without settings"
    )
    listed = run_app("gallery", "list", data_dir=data)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("#1 ") and "#2" not in listed.stdout
    assert listed.stdout == run_app("gallery", "search", data_dir=data).stdout


def test_import_of_a_file_that_is_no_picture_is_one_line(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("a fox")
    done = run_app("gallery", "import", str(notes), data_dir=tmp_path / "data")
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["error: notes.txt is not a PNG, JPEG or WebP file."]
    missing = run_app("gallery", "import", str(tmp_path / "nowhere"), data_dir=tmp_path / "data")
    assert missing.returncode == 2
    assert missing.stderr.splitlines() == [
        f"error: There is no folder or file at {tmp_path / 'nowhere'}."
    ]


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path):
    """`app.py ... | head`: the pipe closes before the command prints; no traceback."""
    compose = ["compose", "--subject", "a lighthouse", "--lighting", "golden hour"]
    command = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--data-dir", str(tmp_path), *compose],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    command.stdout.close()  # the reader is gone before the first line
    _, err = command.communicate(timeout=120)
    assert command.returncode == 141
    assert err == b""


def test_data_dir_may_follow_the_sub_command(tmp_path):
    """`gallery import X --data-dir D` as an artist types it; it wins over one given first."""
    data = tmp_path / "data"
    one = picture(tmp_path / "in" / "one.png", (200, 10, 10))
    typed = ["gallery", "import", str(one), "--data-dir", str(data)]
    done = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), *typed],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr
    listed = run_app("gallery", "list", "--data-dir", str(data), data_dir=tmp_path / "other")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("#1 ")
    assert run_app("gallery", "list", data_dir=data).stdout == listed.stdout
    assert not (tmp_path / "other").exists()
