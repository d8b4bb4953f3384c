"""Two users of one app with `--auth`, through gradio_client and in the browser: each sees,
reads and exports only their own gallery; the endpoints give another's ids as missing."""

from __future__ import annotations

import shutil

import pytest
from gradio_client import Client
from PIL import Image

from gallery.owners import EVERY_OWNER
from gallery.records import NewGeneration
from ui.hosting.mode import Hosting

USERS = (("ada", "ada-pw"), ("grace", "grace-pw"))


@pytest.fixture(scope="module")
def hosting():
    """`server` with `--auth` for two users."""
    return Hosting(auth=USERS)


def generate(client: Client, prompt: str) -> list[int]:
    _, summary = client.predict(
        prompt=prompt, seed=3, steps=1, width=64, height=64, model="demo", api_name="/generate"
    )
    return summary["ids"]


@pytest.mark.slow
def test_each_user_reaches_only_their_own_gallery_through_the_api(server, gallery_store):
    url, _ = server
    store = gallery_store
    ada = Client(url, auth=USERS[0], verbose=False)
    grace = Client(url, auth=USERS[1], verbose=False)
    (ada_id,) = generate(ada, "ada's fox")
    (grace_id,) = generate(grace, "grace's owl")
    assert store.for_owner("user:ada").get(ada_id).prompt == "ada's fox"
    assert store.for_owner("user:grace").get(grace_id).prompt == "grace's owl"

    found = ada.predict(query="", api_name="/search_gallery")
    assert [item["id"] for item in found] == [ada_id]
    assert ada.predict(query="owl", api_name="/search_gallery") == []
    assert ada.predict(id=ada_id, api_name="/get_generation")["prompt"] == "ada's fox"
    with pytest.raises(Exception, match=f"There is no generation {grace_id}"):
        ada.predict(id=grace_id, api_name="/get_generation")
    assert [i["id"] for i in grace.predict(query="", api_name="/search_gallery")] == [grace_id]
    assert store.for_owner(EVERY_OWNER).count() == 2


@pytest.mark.slow
def test_without_a_login_nothing_is_reachable(server):
    url, _ = server
    with pytest.raises(Exception):  # noqa: B017 (gradio_client raises its own types)
        Client(url, verbose=False).predict(query="", api_name="/search_gallery")


@pytest.mark.browser
def test_each_user_sees_only_their_own_gallery_in_the_browser(
    server, gallery_store, browser, tmp_path
):
    from playwright.sync_api import expect

    url, _ = server
    store = gallery_store
    store.for_owner("user:ada").record_generation(
        NewGeneration("ada's lighthouse", seed=4242, model_id="demo", image=red())
    )
    store.for_owner("user:grace").record_generation(
        NewGeneration("grace's forest", seed=5151, model_id="demo", image=red())
    )
    for (name, password), mine, theirs in (
        (USERS[0], "4242 · demo", "5151 · demo"),
        (USERS[1], "5151 · demo", "4242 · demo"),
    ):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(url)
        page.get_by_label("username").fill(name)
        page.get_by_label("password").fill(password)
        page.get_by_role("button", name="Login").click()
        expect(page.locator("#visitor")).to_contain_text(f"Signed in as {name}", timeout=60_000)
        page.get_by_role("tab", name="Gallery").click()
        grid = page.locator("#gallery-grid")
        expect(grid.get_by_text(mine)).to_be_visible()
        expect(grid.get_by_text(theirs)).to_have_count(0)
        page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
        shutil.copyfile(tmp_path / f"{name}.png", f"/tmp/two-users-{name}.png")
        context.close()


def red() -> Image.Image:
    return Image.new("RGB", (64, 64), "red")
