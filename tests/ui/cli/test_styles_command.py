"""`app.py styles import/export`: loose real-world files in, A1111's own composition out."""

from __future__ import annotations

import csv
import io
import json

from prompts.compose import compose_prompt
from prompts.recipe import Recipe
from ui.cli.main import main
from ui.cli.styles import style_library

# A styles.csv as found in the wild: BOM, a comment row, a row with more values than the
# header, a repeated name (A1111 keeps the last), the old `text` column name is not used here.
LOOSE_A1111_CSV = (
    "\ufeffname,prompt,negative_prompt\n"
    '"Cinematic","cinematic still of {prompt}, shallow depth of field","{prompt}, cartoon"\n'
    "# my experiments below\n"
    'Watercolor,watercolor painting,"lowres, text",unused,values\n'
    '"cinematic","film still of {prompt}, 35mm","{prompt}, anime, (cartoon:1.2)"\n'
    "Oil Painting,thick oil paint {prompt},photo\n"
)
FOOOCUS_JSON = [
    {"name": "sai-3d-model", "prompt": "professional 3d model {prompt}", "negative_prompt": "ugly"},
    {"name": "mre-dark-cyberpunk", "prompt": "dark cyberpunk {prompt}", "negative_prompt": ""},
]


def run(capsys, data_dir, *argv):
    code = main(["--data-dir", str(data_dir), "styles", *argv])
    out, err = capsys.readouterr()
    return code, out, err


# AUTOMATIC1111 modules/styles.py, the reference for what A1111 sends to the model.
def a1111_merge_prompts(style_prompt: str, prompt: str) -> str:
    if "{prompt}" in style_prompt:
        return style_prompt.replace("{prompt}", prompt)
    parts = filter(None, (prompt.strip(), style_prompt.strip()))
    return ", ".join(parts)


def a1111_apply_styles_to_prompt(prompt: str, styles: list[str]) -> str:
    for style in styles:
        prompt = a1111_merge_prompts(style, prompt)
    return prompt


def a1111_load_from_csv(text: str) -> dict[str, tuple[str, str]]:
    """`StyleDatabase.load_from_csv`: DictReader, `#` names skipped, the last duplicate wins."""
    styles = {}
    for row in csv.DictReader(io.StringIO(text.removeprefix("\ufeff")), skipinitialspace=True):
        if not row or row["name"].startswith("#"):
            continue
        prompt = row["prompt"] if "prompt" in row else row["text"]
        styles[row["name"]] = (prompt, row.get("negative_prompt", ""))
    return styles


def test_import_previews_then_saves_and_composes_as_a1111_sends(capsys, tmp_path):
    data_dir = tmp_path / "data"
    styles_csv = tmp_path / "styles.csv"
    styles_csv.write_text(LOOSE_A1111_CSV, encoding="utf-8")

    code, out, err = run(capsys, data_dir, "import", str(styles_csv), "--dry-run")
    assert code == 0
    assert out.splitlines()[0] == (
        "styles.csv (A1111 styles.csv): 1 new, 0 replacing your styles, "
        "2 replacing built-in styles, 0 already the same"
    )
    assert "  new: cinematic" in out and "  replaces the built-in style: Oil Painting" in out
    assert "  replaces the built-in style: Watercolor" in out and "dry run" in out
    assert "note: styles.csv line 4: values beyond the header's columns ignored." in err
    assert "note: styles.csv line 5: 'cinematic' appears again; the last one is kept." in err
    with style_library(data_dir) as library:
        assert library.user_styles() == []

    code, out, _ = run(capsys, data_dir, "import", str(styles_csv))
    assert code == 0 and "saved 3 style(s)" in out
    code, out, _ = run(capsys, data_dir, "import", str(styles_csv))
    assert "0 new, 0 replacing your styles, 0 replacing built-in styles, 3 already the same" in out

    reference = a1111_load_from_csv(LOOSE_A1111_CSV)
    subject, negative = "a lighthouse at dusk", "blurry"
    with style_library(data_dir) as library:
        for chosen in (["cinematic"], ["Watercolor"], ["cinematic", "Watercolor"]):
            recipe = Recipe(subject=subject, styles=chosen, negative=[negative])
            composed = compose_prompt(recipe, library)
            styles = [reference[name] for name in chosen]
            assert composed.positive == a1111_apply_styles_to_prompt(
                subject, [p for p, _ in styles]
            )
            assert composed.negative == a1111_apply_styles_to_prompt(
                negative, [n for _, n in styles]
            )
        # `{prompt}` in a style's negative takes the user's negative, as in A1111.
        recipe = Recipe(subject="x", styles=["cinematic"], negative=["n"])
        assert compose_prompt(recipe, library).negative == "n, anime, (cartoon:1.2)"


def test_fooocus_json_import_uses_the_names_fooocus_shows(capsys, tmp_path):
    data_dir = tmp_path / "data"
    path = tmp_path / "sdxl_styles_sai.json"
    path.write_text(json.dumps(FOOOCUS_JSON), encoding="utf-8-sig")
    code, out, _ = run(capsys, data_dir, "import", str(path), "--category", "SAI")
    assert code == 0 and "Fooocus style JSON" in out and "saved 2 style(s)" in out
    with style_library(data_dir) as library:
        assert [(s.name, s.category) for s in library.user_styles()] == [
            ("SAI 3D Model", "SAI"),
            ("MRE Dark Cyberpunk", "SAI"),
        ]


def test_export_writes_what_a1111_and_fooocus_read_back(capsys, tmp_path):
    data_dir = tmp_path / "data"
    source = tmp_path / "in.csv"
    source.write_text(LOOSE_A1111_CSV, encoding="utf-8")
    run(capsys, data_dir, "import", str(source))
    out_csv, out_json = tmp_path / "mine.csv", tmp_path / "mine.json"
    code, out, _ = run(capsys, data_dir, "export", str(out_csv), "--user-only")
    assert code == 0 and "wrote 3 style(s)" in out
    assert a1111_load_from_csv(out_csv.read_text(encoding="utf-8")) == {
        "cinematic": ("film still of {prompt}, 35mm", "{prompt}, anime, (cartoon:1.2)"),
        "Watercolor": ("watercolor painting", "lowres, text"),
        "Oil Painting": ("thick oil paint {prompt}", "photo"),
    }
    code, _, _ = run(capsys, data_dir, "export", str(out_json))
    entries = json.loads(out_json.read_text(encoding="utf-8"))
    assert len(entries) >= 100 and {"name", "prompt", "negative_prompt"} == set(entries[0])


def test_bad_files_are_one_line_errors(capsys, tmp_path):
    data_dir = tmp_path / "data"
    for name, content, message in (
        ("styles.txt", "x", "A1111 .csv or Fooocus .json"),
        ("broken.json", "{not json", "is not valid JSON"),
        ("empty.csv", "", "is empty"),
        ("nothing.csv", "name,prompt\n# only a comment,x\n", "holds no styles"),
        ("deep.json", "[" * 100_000, "deep.json"),
    ):
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        code, out, err = run(capsys, data_dir, "import", str(path))
        assert code != 0 and out == "", name
        assert message in err and err.count("\n") == 1 and "Traceback" not in err, err
    code, _, err = run(capsys, data_dir, "import", str(tmp_path / "missing.csv"))
    assert code != 0 and "There is no style file missing.csv." in err
