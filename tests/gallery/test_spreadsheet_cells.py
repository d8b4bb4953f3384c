"""Exported CSVs are safe to open in a spreadsheet: text that a spreadsheet would run as a
formula is written with a leading `'` (OWASP's CSV injection advice), in `settings.csv` and in
an experiment's `cells.csv`."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest

from gallery import LOCAL_OWNER
from gallery.services.experiments import VariantSpec
from gallery.spreadsheet import safe_cell

FORMULA = "=cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    ("text", "written"),
    [
        (FORMULA, "'" + FORMULA),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("a fox = b", "a fox = b"),
        ("", ""),
    ],
)
def test_text_a_spreadsheet_would_run_is_quoted(text, written):
    assert safe_cell(text) == written


def test_numbers_stay_numbers():
    assert safe_cell(-1) == -1 and safe_cell(-0.5) == -0.5


def _csv(archive: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(archive.read(name).decode())))


def test_settings_csv_and_cells_csv_quote_formulas(sqlite_store, make_generation, tmp_path):
    local = sqlite_store.for_owner(LOCAL_OWNER)
    made = local.record_generation(make_generation(prompt="@fox", negative_prompt=FORMULA))
    with zipfile.ZipFile(local.export_zip([made], tmp_path / "out.zip")) as archive:
        (row,) = _csv(archive, "settings.csv")
    assert row["negative_prompt"] == "'" + FORMULA
    assert row["prompt"] == "'@fox"

    experiment = local.create_experiment(
        "=HYPERLINK(1)",
        [VariantSpec("+red", {"prompt": "-a red fox"}), VariantSpec("blue", {"prompt": "b"})],
        kind="compare",
        settings={},
        seeds=[7],
    )
    red, _ = experiment.variants
    cell = local.record_generation(make_generation(seed=7, prompt="-a red fox"))
    local.add_to_variant(red.id, cell, 0, None)
    out = local.export_experiment(experiment.id, tmp_path / "exp.zip", None)
    with zipfile.ZipFile(out) as archive:
        rows = _csv(archive, "cells.csv")
    text = " ".join(value for row in rows for value in row.values())
    assert "'+red" in text and "'-a red fox" in text
    assert not any(value.startswith(("=", "+", "-", "@")) for row in rows for value in row.values())
