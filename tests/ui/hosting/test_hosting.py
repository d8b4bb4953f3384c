"""Hosting: the mode read from flags and environment, per-visitor galleries through the page's
handlers, the public engine's allow-list, limits and per-visitor bounds, ZeroGPU's path,
escaping of user text, and images that are shown even when the gallery cannot keep them."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from types import SimpleNamespace

import gradio as gr
import pytest
from gradio.context import LocalContext
from PIL import Image

from engine.errors import GenerationCancelled, InvalidRequestError
from engine.request import GenerationRequest
from gallery.owners import LOCAL_OWNER
from gallery.records import NewGeneration
from gallery.store import GalleryStore
from ui.gallery_tab import handlers
from ui.gallery_tab.handlers import ANY
from ui.generate.handlers import generate_images, read_form
from ui.hosting.admission import Admission, check_limits
from ui.hosting.auth import HostingError, parse_auth
from ui.hosting.hosted_engine import HostedEngine
from ui.hosting.mode import Hosting, Limits, hosting_from
from ui.hosting.served import launch_options
from ui.hosting.visitors import VisitorGallery, Visitors, browser_owner
from ui.hosting.zerogpu import PipelineCall, gpu_seconds
from ui.messages import md_text

NO_FILTERS = ("", ANY, ANY, 0, False, "")


# --- the mode ------------------------------------------------------------------------------


def test_local_by_default_public_on_a_space(tmp_path):
    local = hosting_from(environ={})
    assert not local.public and not local.per_user and local.limits is None
    assert local.model_allowed("/any/local/folder")
    space = hosting_from(default_model="stabilityai/sd-turbo", environ={"SPACE_ID": "a/b"})
    assert space.public and space.limits is not None
    assert space.allowed_models == ("stabilityai/sd-turbo", "sketch", "demo")
    assert not space.model_allowed("/etc") and not space.model_allowed("other/model")
    listed = hosting_from(public_flag=True, environ={"ATELIER_MODELS": "a/b, demo"})
    assert listed.allowed_models == ("a/b", "demo")
    admins = hosting_from(environ={"ATELIER_ADMINS": "ada, grace"})
    assert admins.is_admin("ada") and not admins.is_admin("eve") and not admins.is_admin(None)


def test_auth_from_flags_and_a_file(tmp_path):
    logins = tmp_path / "logins.txt"
    logins.write_text("# team\nada:s3cret:with:colons\n\ngrace:pw\n")
    assert parse_auth(["eve:pw2"], str(logins)) == (
        ("eve", "pw2"),
        ("ada", "s3cret:with:colons"),
        ("grace", "pw"),
    )
    with pytest.raises(HostingError, match="Entry 2 of the auth file") as caught:
        logins.write_text("ada:pw\nnot-a-pair\n")
        parse_auth([], str(logins))
    assert "pw" not in str(caught.value)
    with pytest.raises(HostingError, match="cannot be read"):
        parse_auth([], str(tmp_path / "missing.txt"))


def test_only_image_folders_are_served(tmp_path):
    with GalleryStore.open(tmp_path / "g") as store:
        options = launch_options(store, Hosting(auth=(("ada", "pw"),)))
    assert sorted(options["allowed_paths"]) == sorted(
        [str(tmp_path / "g" / "images"), str(tmp_path / "g" / "thumbnails")]
    )
    assert options["auth"] == [("ada", "pw")]
    assert launch_options(None, Hosting(public=True))["show_error"] is False


# --- per-visitor galleries through the page's handlers -------------------------------------


@pytest.fixture
def as_visitor():
    """Run code as if handling an event of a visitor (a Gradio request in the context)."""

    def run(request, fn, *args):
        token = LocalContext.request.set(request)
        try:
            return fn(*args)
        finally:
            LocalContext.request.reset(token)

    return run


def user(name):
    return SimpleNamespace(username=name, session_hash=f"session-{name}")


def test_two_users_never_reach_each_others_items(tmp_path, as_visitor):
    hosting = Hosting(auth=(("ada", "1"), ("grace", "2")), admins=frozenset({"root"}))
    with GalleryStore.open(tmp_path / "g") as store:
        gallery = VisitorGallery(store, Visitors(hosting))
        image = Image.new("RGB", (32, 32), "red")
        ada = as_visitor(
            user("ada"), gallery.record_generation, NewGeneration("ada's", image=image)
        )
        grace = as_visitor(
            user("grace"), gallery.record_generation, NewGeneration("grace's", image=image)
        )
        assert store.for_owner("user:ada").get(ada).user_id == "user:ada"
        page = as_visitor(user("ada"), handlers.search_gallery, gallery, *NO_FILTERS)
        assert page.ids == [ada]
        for attempt in (
            lambda: handlers.detail_view(gallery, grace),
            lambda: handlers.set_rating(gallery, grace, "5"),
            lambda: handlers.add_tag(gallery, grace, "mine"),
            lambda: handlers.save_notes(gallery, grace, "mine"),
            lambda: handlers.recall_values(gallery, grace),
            lambda: handlers.delete_generation(gallery, grace),
            lambda: handlers.export_generations(gallery, [ada, grace]),
        ):
            with pytest.raises(gr.Error, match=f"There is no generation {grace}"):
                as_visitor(user("ada"), attempt)
        kept = store.for_owner("user:grace").get(grace)
        assert (kept.rating, kept.tags, kept.notes) == (None, (), "")
        assert kept.image.path.is_file()
        # The caller cannot pick the owner; an admin sees both, nobody sees nothing.
        with pytest.raises(TypeError, match="owner"):
            as_visitor(user("ada"), lambda: gallery.count(None, owner="user:grace"))
        assert as_visitor(user("ada"), gallery.count) == 1
        assert as_visitor(user("root"), gallery.count) == 2
        assert as_visitor(None, gallery.count) == 0
        with pytest.raises(AttributeError):
            gallery.for_owner("user:grace")


def test_signed_out_visitors_get_their_browsers_gallery(tmp_path, as_visitor):
    visitors = Visitors(Hosting(public=True))
    page = SimpleNamespace(username=None, session_hash="page-1")
    token = visitors.remember_browser(page, None)
    assert len(token) >= 32 and visitors.remember_browser(page, token) == token
    assert visitors.visitor(page).owner == browser_owner(token)
    assert token not in browser_owner(token)  # the database holds a hash, not the token
    other_tab = SimpleNamespace(username=None, session_hash="page-2")
    assert visitors.visitor(other_tab).owner != browser_owner(token)
    visitors.remember_browser(other_tab, token)  # same browser, another tab
    assert visitors.visitor(other_tab).owner == browser_owner(token)
    forged = visitors.remember_browser(SimpleNamespace(session_hash="p3"), "<script>")
    assert forged != "<script>"


# --- the public engine ---------------------------------------------------------------------


def test_admission_bounds_runs_and_starts_per_visitor():
    now = [0.0]
    admission = Admission(runs=1, per_minute=3, clock=lambda: now[0])
    with admission.enter("ada"):
        with (
            pytest.raises(InvalidRequestError, match="already have a generation running"),
            admission.enter("ada"),
        ):
            pass
        with admission.enter("grace"):  # another visitor is not held up
            pass
    with admission.enter("ada"), pytest.raises(InvalidRequestError), admission.enter("ada"):
        pass
    with admission.enter("ada"):
        pass
    with (
        pytest.raises(InvalidRequestError, match=r"3 generations a minute.*in \d+ s"),
        admission.enter("ada"),
    ):
        pass
    now[0] = 61.0
    with admission.enter("ada"):
        pass


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"width": 1032}, "at most 1024"),
        ({"steps": 51}, "at most 50 steps"),
        ({"num_images": 5}, "at most 4 images"),
        ({"prompt": "x" * 2001}, "2000 characters"),
        ({"negative_prompt": "x" * 2001}, "2000 characters"),
    ],
)
def test_limits_are_checked_on_the_server(change, message):
    request = GenerationRequest(**{"prompt": "a fox", "steps": 2, **change})
    with pytest.raises(InvalidRequestError, match=message):
        check_limits(request, Limits())
    assert "1024" in Limits().describe() and "one run at a time" in Limits().describe()


def test_the_public_engine_offers_allowed_models_only_and_names_no_path(engine, tmp_path):
    hosting = Hosting(public=True, allowed_models=("demo",), limits=Limits())
    hosted = HostedEngine(engine, hosting, lambda: "ada")
    existing = str(tmp_path)
    for model in (existing, str(tmp_path / "missing"), "/etc/passwd", "someone/else"):
        with pytest.raises(InvalidRequestError) as refused:
            hosted.generate(GenerationRequest("a fox", steps=1, width=64, height=64), model)
        assert str(refused.value) == "This app offers these models only: demo."
    assert hosted.models is engine.models  # everything else passes through


def test_the_zerogpu_path_streams_progress_and_stops(engine):
    hosting = Hosting(public=True, allowed_models=("demo",), limits=Limits())
    hosted = HostedEngine(engine, hosting, lambda: "ada")
    request = GenerationRequest("a fox", seed=4, steps=3, width=64, height=64)
    steps = []
    result = hosted.generate(request, "demo", on_progress=lambda u: steps.append(u.step))
    assert steps == [1, 2, 3]
    direct = engine.generate(request, model="demo")
    assert result.images[0].tobytes() == direct.images[0].tobytes()
    cancel = threading.Event()

    def stop_after_first(update):
        cancel.set()

    with pytest.raises(GenerationCancelled):
        hosted.generate(
            GenerationRequest("a fox", seed=4, steps=8, width=64, height=64),
            "demo",
            on_progress=stop_after_first,
            cancel=cancel,
        )
    with hosted.admission.enter("ada"):  # the stopped run gave its slot back
        pass


def test_gpu_time_grows_with_steps_pixels_and_images():
    def calls(**settings):
        return [PipelineCall(GenerationRequest("a", **settings), "demo")]

    assert gpu_seconds("k", calls(steps=4, width=512, height=512)) == 15  # the floor
    big = calls(steps=50, width=1024, height=1024, num_images=4)
    one_image = calls(steps=50, width=1024, height=1024, num_images=1)
    assert 15 < gpu_seconds("k", one_image) < gpu_seconds("k", big) <= 180
    image_by_image = one_image * 4  # a Generate batch: one call per image, one GPU entry
    assert gpu_seconds("k", image_by_image) == gpu_seconds("k", big)
    huge = calls(steps=10_000, width=2048, height=2048, num_images=8)
    assert gpu_seconds("k", huge) == 180  # the ceiling


def test_spaces_is_a_no_op_off_spaces():
    import spaces

    def task(x):
        return x + 1

    assert spaces.GPU(duration=5)(task) is task


# --- user text on the page -----------------------------------------------------------------


def test_tags_and_settings_cannot_inject_markup(tmp_path):
    with GalleryStore.open(tmp_path / "g") as store:
        image = Image.new("RGB", (32, 32), "red")
        local = store.for_owner(LOCAL_OWNER)
        gid = local.record_generation(
            NewGeneration("p", image=image, model_id="[x](javascript:alert(1)) <img src=/m>")
        )
        handlers.add_tag(local, gid, "x` <img src=/probe> `y")
        view = handlers.detail_view(local, gid)
    for shown in (view.tags_markdown, view.settings_markdown):
        assert "<img" not in shown and "](" not in shown and "`" not in shown
    assert "&#60;img src=/probe&#62;" in view.tags_markdown
    assert md_text("a\nb **c** 7.5") == "a b &#42;&#42;c&#42;&#42; 7.5"


# --- integers, a gallery that cannot keep, exports ------------------------------------------


@pytest.mark.parametrize(("steps", "width"), [(2.7, 64), (2, 64.5)])
def test_page_integers_are_validated_not_rounded(steps, width):
    with pytest.raises(gr.Error, match="whole number"):
        read_form({"prompt": "a", "seed": 1, "steps": steps, "width": width, "height": 64})


def test_a_read_only_gallery_keeps_the_images_on_the_page_with_one_line(hosted):
    def read_only(result, recipe):
        raise PermissionError(13, "Permission denied", "/srv/secret/gallery/tmp/x.part")

    with pytest.warns(UserWarning) as warned:
        shown = list(
            generate_images(
                hosted,
                read_form({"prompt": "a", "model": "demo", "seed": 1, "steps": 1, "width": 64,
                           "height": 64}),
                on_result=read_only,
            )
        )  # fmt: skip
    assert shown[-1].results.value  # the finished images are on the page
    messages = [str(w.message) for w in warned if "gallery" in str(w.message)]
    assert len(messages) == 1 and "not recorded in the gallery (Permission denied)" in messages[0]
    assert "/srv" not in messages[0]
    assert "/srv" not in str(shown[-1])


def test_old_exports_are_removed(tmp_path):
    old = tempfile.mkdtemp(prefix=handlers.EXPORT_PREFIX)
    fresh = tempfile.mkdtemp(prefix=handlers.EXPORT_PREFIX)
    past = time.time() - handlers.EXPORT_KEEP_S - 5
    os.utime(old, (past, past))
    assert handlers.remove_old_exports() >= 1
    assert not os.path.exists(old) and os.path.exists(fresh)
    os.rmdir(fresh)


def test_the_gallery_command_acts_for_one_owner_or_all(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    with GalleryStore.open(tmp_path / "gallery") as store:
        image = Image.new("RGB", (16, 16), "red")
        store.for_owner(LOCAL_OWNER).record_generation(NewGeneration("local fox", image=image))
        store.for_owner("user:ada").record_generation(NewGeneration("ada's fox", image=image))

    def search(*flags):
        done = subprocess.run(
            [sys.executable, str(root / "app.py"), "--data-dir", str(tmp_path), "gallery",
             *flags, "search", "fox", "--json"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return sorted(item["prompt"] for item in json.loads(done.stdout))

    assert search() == ["local fox"]
    assert search("--owner", "user:ada") == ["ada's fox"]
    assert search("--all-owners") == ["ada's fox", "local fox"]


def test_comparison_batches_pass_the_same_checks_and_count_their_images(engine):
    from engine.request import ImageSpec

    hosting = Hosting(public=True, allowed_models=("demo",), limits=Limits(images_per_minute=5))
    hosted = HostedEngine(engine, hosting, lambda: "ada")
    settings = GenerationRequest("", steps=1, width=64, height=64)
    rows = [ImageSpec(f"fox {n}", "", n) for n in range(3)]
    with pytest.raises(InvalidRequestError, match="offers these models only"):
        hosted.generate_rows(rows, settings, model="/srv/models/x")
    with pytest.raises(InvalidRequestError, match="at most 8 images per batch"):
        hosted.generate_rows([ImageSpec("a", "", n) for n in range(9)], settings, model="demo")
    with pytest.raises(InvalidRequestError, match="2000 characters"):
        hosted.generate_rows([ImageSpec("x" * 2001, "", 1)], settings, model="demo")
    assert len(hosted.generate_rows(rows, settings, model="demo").images) == 3
    with pytest.raises(InvalidRequestError, match="5 images a minute"):
        hosted.generate_rows(rows, settings, model="demo")


def test_the_browser_token_key_survives_a_restart(tmp_path):
    from ui.hosting.mode import browser_secret, with_browser_secret

    first = with_browser_secret(Hosting(public=True), tmp_path).browser_secret
    assert len(first) >= 32 and browser_secret(tmp_path) == first
    assert oct((tmp_path / "browser-secret").stat().st_mode & 0o777) == "0o600"


def test_work_in_worker_threads_is_recorded_for_the_visitor(tmp_path, as_visitor):
    """Generate and Compare run their work in a worker thread (`ui.streaming`); what it
    records is still the visitor's (the event's context goes with the thread)."""
    from ui.streaming import stream_work

    with GalleryStore.open(tmp_path / "g") as store:
        gallery = VisitorGallery(store, Visitors(Hosting(auth=(("ada", "1"),))))
        image = Image.new("RGB", (16, 16), "red")

        def work(emit, cancel):
            emit(gallery.record_generation(NewGeneration("in a worker", image=image)))

        recorded = as_visitor(user("ada"), lambda: list(stream_work(work)))
        assert store.for_owner("user:ada").get(recorded[0]).prompt == "in a worker"


def test_a_hugging_face_sign_in_is_read_from_the_session_and_claims_the_browser_gallery(
    tmp_path,
):
    """What Gradio's OAuth keeps in the session after "Sign in with Hugging Face" (the Space
    itself cannot be reached here): a live sign-in is the owner, an expired one is not."""
    from starlette.requests import Request

    def signed_in(name, expires_in):
        info = {"userinfo": {"preferred_username": name}, "expires_at": time.time() + expires_in}
        scope = {"type": "http", "session": {"oauth_info": info}, "headers": []}
        return SimpleNamespace(request=Request(scope), username=None, session_hash="s1")

    visitors = Visitors(Hosting(public=True, sign_in_with_hf=True, admins=frozenset({"boss"})))
    ada = visitors.visitor(signed_in("ada", 600))
    assert (ada.owner, ada.signed_in, ada.admin) == ("hf:ada", True, False)
    assert visitors.visitor(signed_in("boss", 600)).admin
    assert not visitors.visitor(signed_in("ada", -1)).signed_in

    with GalleryStore.open(tmp_path / "g") as store:
        token = visitors.remember_browser(SimpleNamespace(session_hash="s0"), None)
        made = store.for_owner(browser_owner(token)).record_generation(
            NewGeneration("signed out", image=Image.new("RGB", (8, 8)))
        )
        assert store.admin().transfer_owner(browser_owner(token), ada.owner) == 1
        assert store.for_owner("hf:ada").get(made).prompt == "signed out"


def test_a_comparison_over_the_public_limit_is_refused_before_anything_is_saved(engine, tmp_path):
    from engine.compare_plan import CompareVariant
    from ui.compare.runner import run_experiment
    from ui.forms import CompareForm

    hosting = Hosting(public=True, allowed_models=("demo",), limits=Limits())
    hosted = HostedEngine(engine, hosting, lambda: "ada")
    settings = GenerationRequest("", steps=1, width=64, height=64)
    variants = tuple(CompareVariant(n, f"a {n}") for n in ("fox", "cat", "owl"))
    with GalleryStore.open(tmp_path / "data") as store:
        local = store.for_owner(LOCAL_OWNER)
        too_big = CompareForm(variants, tuple(range(11)), settings)  # 33 images > 32
        with pytest.raises(InvalidRequestError, match="33 images; at most 32"):
            run_experiment(hosted, local, too_big)
        assert local.list_experiments() == []
        run_experiment(hosted, local, CompareForm(variants, (1,), settings))  # 3 images pass
        assert len(local.list_experiments()) == 1


def test_anonymous_callers_are_limited_by_address_not_by_the_sessions_they_mint():
    """A stranger can open new sessions (or browser tokens) at will; the limits count their
    network address. Signed-in users count as themselves."""
    visitors = Visitors(Hosting(public=True))
    client = SimpleNamespace(host="203.0.113.7")
    first = visitors.visitor(SimpleNamespace(username=None, session_hash="s-1", client=client))
    second = visitors.visitor(SimpleNamespace(username=None, session_hash="s-2", client=client))
    assert first.owner != second.owner  # separate galleries...
    assert first.rate_key == second.rate_key == "addr:203.0.113.7"  # ...one shared budget
    other = visitors.visitor(
        SimpleNamespace(username=None, session_hash="s-3", client=SimpleNamespace(host="x"))
    )
    assert other.rate_key != first.rate_key
    ada = visitors.visitor(SimpleNamespace(username="ada", session_hash="s-4", client=client))
    assert ada.rate_key == "user:ada"
    behind_proxy = Visitors(Hosting(public=True, on_space=True))
    forwarded = SimpleNamespace(
        username=None,
        session_hash="s-5",
        client=SimpleNamespace(host="10.0.0.1"),
        headers={"x-forwarded-for": "198.51.100.4, 10.0.0.1"},
    )
    assert behind_proxy.visitor(forwarded).rate_key == "addr:198.51.100.4"
    hosted = HostedEngine(object(), Hosting(public=True), lambda: first.rate_key)
    with (
        hosted.admission.enter(first.rate_key),
        pytest.raises(InvalidRequestError),
        hosted.admission.enter(second.rate_key),
    ):
        pass


def test_signed_out_callers_share_one_cap_whatever_address_they_claim(engine):
    """A forged X-Forwarded-For gives each call a new address; all signed-out calls together
    still stop at the shared cap, and a signed-in visitor is not held by it."""
    limits = Limits(anonymous_images_per_minute=3)
    hosting = Hosting(public=True, allowed_models=("demo",), limits=limits)
    callers = iter(["addr:198.51.100.1", "addr:198.51.100.2", "addr:198.51.100.3", "user:ada"])
    hosted = HostedEngine(engine, hosting, lambda: next(callers))
    one = GenerationRequest("fox", steps=1, width=64, height=64)
    two = GenerationRequest("fox", steps=1, width=64, height=64, num_images=2)
    assert len(hosted.generate(one, model="demo").images) == 1
    assert len(hosted.generate(one, model="demo").images) == 1
    with pytest.raises(InvalidRequestError, match="busy with signed-out visitors; sign in"):
        hosted.generate(two, model="demo")
    assert len(hosted.generate(two, model="demo").images) == 2
    assert "signed-out visitors share 3 images a minute" in limits.describe()
