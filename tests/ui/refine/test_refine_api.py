"""`interrogate_image` and `refine` over HTTP through gradio_client, on the real server: the
sketch world's pictures read back by the shipped sketch CLIP, a refinement saved round by
round with its lineage, and bad uploads answered in one sentence."""

from __future__ import annotations

import pytest
from gradio_client import Client, handle_file
from PIL import Image

from engine.sketch.world import Scene, render_scene

TARGET = Scene("star", "blue", "large", "right", "night", "flat")


@pytest.fixture(scope="module")
def target_png(tmp_path_factory):
    path = tmp_path_factory.mktemp("target") / "target.png"
    Image.fromarray(render_scene(TARGET)).save(path)
    return path


@pytest.fixture(scope="module")
def client(server):
    url, _ = server
    return Client(url, verbose=False)


@pytest.mark.slow
def test_interrogate_image_reads_the_picture_into_builder_fields(client, target_png):
    read = client.predict(image=handle_file(str(target_png)), api_name="/interrogate_image")
    assert read["clip"] == "sketch CLIP" and read["meaningful"] is True
    colour = read["fields"]["subject.colour"]
    assert colour["chosen"] == "blue" and colour["sure"] > 0.5
    assert colour["terms"][0]["term"] == "blue" and colour["terms"][0]["score"] > 0
    assert read["fields"]["composition"]["chosen"] == "on the right"
    assert "blue" in read["recipe"]["subject"] and "blue" in read["prompt"]


@pytest.mark.slow
def test_interrogate_image_refuses_a_file_that_is_not_a_picture(client, tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_text("<script>alert(1)</script>")
    with pytest.raises(Exception, match="not a picture this app can read") as caught:
        client.predict(image=handle_file(str(fake)), api_name="/interrogate_image")
    assert str(tmp_path) not in str(caught.value)


@pytest.mark.slow
def test_refine_climbs_and_saves_each_round_with_its_lineage(client, target_png, local_gallery):
    ran = client.predict(
        target_image=handle_file(str(target_png)),
        prompt="a shape",
        seeds="1, 2",
        rounds=1,
        beam=1,
        proposals=2,
        steps=4,
        width=64,
        height=64,
        api_name="/refine",
    )
    assert [r["index"] for r in ran["rounds"]] == [0, 1]
    start, variants = ran["rounds"][0]["variants"][0], ran["rounds"][1]["variants"]
    assert start["id"] == "r0" and start["prompt"] == "a shape"
    assert [v["parent"] for v in variants] == ["r0", "r0"]
    lineage = ran["lineage"]
    assert lineage[0]["id"] == "r0" and lineage[-1]["score"] >= start["score"]
    experiments = [local_gallery.get_experiment(i) for i in ran["experiments"]]
    assert [e.kind for e in experiments] == ["refine", "refine"]
    assert experiments[1].settings["refine"]["previous_experiment"] == experiments[0].id
    # every variant's picture on a seed has its parent's picture on that seed as parent
    start_cells = {c.seed_index: c.generation_id for c in experiments[0].cells}
    for cell in experiments[1].cells:
        record = local_gallery.get(cell.generation_id)
        if record.prompt != "a shape":
            assert record.parent_id == start_cells[cell.seed_index]


@pytest.mark.slow
def test_refine_replays_the_artists_picks_and_the_same_picks_give_the_same_rounds(
    client, target_png
):
    def refine(**values):
        return client.predict(
            target_image=handle_file(str(target_png)), prompt="a shape", seeds="1", rounds=2,
            beam=1, proposals=2, steps=4, width=64, height=64, api_name="/refine", **values,
        )  # fmt: skip

    def story(ran):
        return [[(v["id"], v["prompt"], v["scores"]) for v in r["variants"]] for r in ran["rounds"]]

    by_score = refine()
    first = by_score["rounds"][1]
    pick = next(v["id"] for v in first["variants"] if v["id"] != first["best"])
    picked, again = refine(picks=pick), refine(picks=pick)
    assert story(picked) == story(again)
    assert story(picked)[:2] == story(by_score)[:2]
    assert picked["rounds"][1]["picks"] == [pick] and by_score["rounds"][1]["picks"] == []
    assert picked["rounds"][2]["parents"] == [pick] != by_score["rounds"][2]["parents"]
    steps = {step["id"]: step for step in picked["lineage"]}
    assert steps[pick]["picked"] and steps[pick]["chosen_by"] == "artist"
    alone = client.predict(
        prompt="a shape", picks="r1.1", seeds="1", rounds=2, beam=1, proposals=2, steps=4,
        width=64, height=64, api_name="/refine",
    )  # fmt: skip
    assert alone["rounds"][2]["parents"] == ["r1.1"]
    with pytest.raises(Exception, match=r"There is no variant 'r1\.9' in the last round"):
        refine(picks="r1.9")


@pytest.mark.slow
def test_refine_says_what_is_wrong_in_one_sentence(client, target_png):
    with pytest.raises(Exception, match="Give a start prompt"):
        client.predict(target_image=handle_file(str(target_png)), prompt=" ", api_name="/refine")
    with pytest.raises(Exception, match="Describe the target in words"):
        client.predict(prompt="a shape", api_name="/refine")
    with pytest.raises(Exception, match="Rounds must be a whole number"):
        client.predict(prompt="a shape", target_text="a red circle", rounds=1.5,
                       api_name="/refine")  # fmt: skip
