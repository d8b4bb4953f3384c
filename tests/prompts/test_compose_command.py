"""`python app.py compose`: recipe flags in, final prompts and token counts out."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from prompts.recipe import Recipe
from prompts.styles import Style
from ui.cli.main import main

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = [
    "--subject",
    "a lighthouse",
    "--style",
    "Oil Painting",
    "--lighting",
    "golden hour",
    "--negative",
    "blurry",
]


def compose(capsys, data_dir, *flags):
    code = main(["--data-dir", str(data_dir), "compose", *flags])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_issue_example_runs_as_a_real_process(tmp_path):
    result = subprocess.run(
        [sys.executable, "app.py", "--data-dir", str(tmp_path), "compose", *EXAMPLE],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("positive: oil painting of a lighthouse, golden hour, ")
    assert lines[1].startswith("negative: blurry, ")
    assert "styles: Oil Painting" in lines
    assert any(line.startswith("positive tokens: 24 in 1 chunk") for line in lines)
    assert any(line.startswith("  chunk 1: 24/75 tokens") for line in lines)


def test_json_output_is_one_document(capsys, tmp_path):
    code, out, _ = compose(capsys, tmp_path, *EXAMPLE, "--json")
    assert code == 0
    document = json.loads(out)
    assert document["positive"].startswith("oil painting of a lighthouse, golden hour")
    assert document["negative"].split(", ")[0] == "blurry"
    assert document["styles"] == ["Oil Painting"]
    assert document["tokens"]["positive"]["count"] == 24
    assert document["tokens"]["positive"]["chunks"][0]["tokens"] == 24
    assert Recipe.from_dict(document["recipe"]).lighting == ("golden hour",)


def test_every_recipe_field_has_a_flag_and_lists_repeat(capsys, tmp_path):
    code, out, _ = compose(
        capsys,
        tmp_path,
        "--subject",
        "a fox",
        "--detail",
        "fluffy tail",
        "--medium",
        "gouache",
        "--lighting",
        "rim light",
        "--lighting",
        "fog",
        "--camera",
        "85mm lens",
        "--composition",
        "rule of thirds",
        "--mood",
        "serene",
        "--color",
        "teal",
        "--colour",
        "warm tones",
        "--quality",
        "highly detailed",
        "--text",
        "(snow:1.2)",
        "--negative",
        "text",
        "--negative",
        "blurry",
        "--json",
    )
    assert code == 0
    document = json.loads(out)
    assert document["positive"] == (
        "a fox, fluffy tail, gouache, rim light, fog, 85mm lens, rule of thirds, serene, teal, "
        "warm tones, (snow:1.2), highly detailed"
    )
    assert document["negative"] == "text, blurry"


def test_unknown_style_is_a_one_line_error_with_exit_2(capsys, tmp_path):
    code, out, err = compose(capsys, tmp_path, "--subject", "x", "--style", "Oil Paintng")
    assert code == 2 and out == ""
    assert err.startswith("error: Unknown style 'Oil Paintng'. Did you mean 'Oil Painting'")
    assert err.count("\n") == 1


@pytest.mark.parametrize("flags", [(), ("--subject", "  ")])
def test_nothing_to_compose_is_a_one_line_error(capsys, tmp_path, flags):
    code, out, err = compose(capsys, tmp_path, *flags)
    assert (code, out) == (2, "")
    assert err == (
        "error: Nothing to compose: give a --subject, a --style or some terms (see --help).\n"
    )


def test_list_styles_filters_by_name_or_category(capsys, tmp_path):
    code, out, _ = compose(capsys, tmp_path, "--list-styles", "oil")
    assert code == 0
    assert "Oil Painting  Painting" in out.splitlines()
    code, out, _ = compose(capsys, tmp_path, "--list-styles")
    assert code == 0 and len(out.splitlines()) >= 100
    code, out, _ = compose(capsys, tmp_path, "--list-styles", "--category", "Anime", "--json")
    assert code == 0 and {s["category"] for s in json.loads(out)} == {"Anime"}
    code, out, err = compose(capsys, tmp_path, "--list-styles", "zzz-none")
    assert code == 1 and out == "" and "no styles match" in err


def test_user_styles_kept_by_the_app_are_usable(capsys, tmp_path):
    from gallery.owners import LOCAL_OWNER
    from gallery.store import GalleryStore
    from ui.settings import gallery_dir

    with GalleryStore.open(gallery_dir(tmp_path)) as store:  # where the web app keeps them
        store.for_owner(LOCAL_OWNER).save_user_style(
            Style("My Neon", "Mine", "neon sign of {prompt}", "dull")
        )
    code, out, _ = compose(capsys, tmp_path, "--subject", "a cat", "--style", "my neon")
    assert code == 0
    assert "positive: neon sign of a cat" in out and "negative: dull" in out


def test_a_recipe_file_is_the_starting_point_and_flags_add_to_it(capsys, tmp_path):
    path = tmp_path / "recipe.json"
    path.write_text(Recipe(subject="a boat", mood=["calm"]).to_json())
    code, out, _ = compose(capsys, tmp_path, "--recipe", str(path), "--mood", "lonely", "--json")
    assert code == 0 and json.loads(out)["positive"] == "a boat, calm, lonely"
    path.write_text('{"subject": "a boat", "sampler": "Euler"}')
    code, _, err = compose(capsys, tmp_path, "--recipe", str(path))
    assert code == 2 and "unknown field 'sampler'" in err
    code, _, err = compose(capsys, tmp_path, "--recipe", str(tmp_path / "missing.json"))
    assert code == 2 and err.startswith("error: Cannot read recipe")


@pytest.mark.parametrize("seed", [1, 2])
def test_seed_resolves_wildcards_the_same_way_every_time(capsys, tmp_path, seed):
    flags = ["--subject", "a {red|green|blue} __animal__", "--json", "--seed", str(seed)]
    first = json.loads(compose(capsys, tmp_path, *flags)[1])
    second = json.loads(compose(capsys, tmp_path, *flags)[1])
    assert first["positive"] == second["positive"]
    assert "{" not in first["positive"] and "__" not in first["positive"]
    assert [c["source"] for c in first["wildcard_choices"]] == ["{red|green|blue}", "__animal__"]


def test_without_a_seed_wildcards_are_left_and_said_so(capsys, tmp_path):
    code, out, _ = compose(capsys, tmp_path, "--subject", "a {red|blue} car")
    assert code == 0
    assert "positive: a {red|blue} car" in out
    assert "pass --seed to resolve them" in out


def test_bad_weighting_is_a_one_line_error(capsys, tmp_path):
    code, _, err = compose(capsys, tmp_path, "--subject", "a (red car")
    assert code == 2 and "never closed" in err and err.count("\n") == 1
