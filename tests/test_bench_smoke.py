"""Every benchmark still runs: each `bench/*.py` script (found by glob, so a new one is
covered without being listed here; modules without a `__main__` block are its helpers) runs
with `--smoke` as its own process and must exit 0 with `ratio: X` as its last line.
`pytest -k bench_smoke` runs just these."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# A bench is a script with a `__main__` block (modules without one are helpers it imports).
BENCHES = sorted(
    path
    for path in (REPO_ROOT / "bench").glob("*.py")
    if 'if __name__ == "__main__":' in path.read_text(encoding="utf-8")
)
RATIO = re.compile(r"ratio: -?\d+(\.\d+)?")
SMOKE_TIMEOUT_S = 600


def test_bench_smoke_finds_the_benches():
    assert len(BENCHES) >= 4, [b.name for b in BENCHES]


@pytest.mark.parametrize("bench", BENCHES, ids=[b.stem for b in BENCHES])
def test_bench_smoke(bench: Path, tmp_path: Path):
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "HF_HUB_OFFLINE": "1",
        "TMPDIR": str(tmp_path),  # what a bench leaves in its temporary folders goes with it
    }
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, str(bench), "--smoke"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT_S,
    )
    assert result.returncode == 0, f"{bench.name} --smoke failed:\n{result.stderr[-3000:]}"
    lines = result.stdout.strip().splitlines()
    assert lines and RATIO.fullmatch(lines[-1].strip()), (
        f"{bench.name} --smoke did not end with `ratio: X`:\n{result.stdout[-2000:]}"
    )
