"""Every public method of every gallery service is owner-scoped or marked admin-only.

The services are found by introspection (every public class of every `gallery.services`
module but `common`), so a new service or method is checked without anyone listing it here:

- owner-scoped: it takes `owner` with no default, and, called for ada on a real SQLite gallery
  holding grace's generations, experiment, votes, scores and style, it finds nothing of
  grace's (`NotFoundError`, or an empty answer) and changes nothing of grace's (every row
  reachable from her, and her files, compared before and after);
- admin-only: marked `@admin_only`, and then no `OwnerGallery` has it.

A method with neither, or without a row in `CASES` below, fails. The same cases run through
`OwnerGallery` (every public method of the view needs one).
"""

from __future__ import annotations

import importlib
import inspect
import io
import pkgutil
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

import gallery.services
from gallery import GalleryQuery, GalleryStore, NewGeneration, NotFoundError, UserStyle
from gallery.models import (
    Experiment,
    ExperimentVariant,
    ExperimentVote,
    Generation,
    GenerationScore,
    GenerationTag,
    ImageFile,
    Tag,
    UserStyleRow,
    VariantGeneration,
)
from gallery.records import Page, ScoreRecord, VariantSpec
from gallery.services.common import is_admin_only
from gallery.views import AdminGallery, OwnerGallery

ADA, GRACE = "ada", "grace"  # ada asks; grace owns everything asked about


def service_classes() -> list[type]:
    """Every public class defined in a `gallery.services` module (`common` is their tools)."""
    found = []
    for info in pkgutil.iter_modules(gallery.services.__path__):
        if info.name == "common":
            continue
        module = importlib.import_module(f"gallery.services.{info.name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            protocol = getattr(cls, "_is_protocol", False)
            if cls.__module__ == module.__name__ and not name.startswith("_") and not protocol:
                found.append(cls)
    return found


def public_methods(cls: type) -> list[str]:
    return [name for name, _ in inspect.getmembers(cls, inspect.isfunction) if name[0] != "_"]


def owner_rule_broken(method: Callable[..., Any]) -> str | None:
    """Why `method` is neither owner-scoped by signature nor marked admin-only, or None."""
    if is_admin_only(method):
        return None
    owner = inspect.signature(method).parameters.get("owner")
    if owner is None:
        return "takes no `owner` and is not marked @admin_only"
    if owner.default is not inspect.Parameter.empty:
        return f"gives `owner` a default ({owner.default!r})"
    return None


# --- what ada asks of grace's gallery, method by method -----------------------------------


def refused(outcome: Any) -> bool:
    """Reported exactly like something that does not exist."""
    return isinstance(outcome, NotFoundError)


def empty(outcome: Any) -> bool:
    """An answer that holds nothing."""
    if isinstance(outcome, Page):
        return outcome.items == () and not outcome.has_more
    return not isinstance(outcome, BaseException) and not outcome


@dataclass(frozen=True)
class Case:
    """Calls of one service method for ada on grace's things, and what each must give."""

    view: str  # the `OwnerGallery` method that reaches it
    calls: Callable[[SimpleNamespace], list[tuple[tuple, dict]]]
    expect: Callable[[Any], bool] = refused
    also: Callable[[SimpleNamespace, Any], bool] = field(default=lambda world, outcome: True)


def one(*args: Any, **kwargs: Any) -> list[tuple[tuple, dict]]:
    return [(args, kwargs)]


def child_of(gid: int) -> NewGeneration:
    return NewGeneration(
        "ada's child", seed=9, image=Image.new("RGB", (8, 8), "blue"), parent_id=gid
    )


CASES: dict[tuple[str, str], Case] = {
    # RecordService
    ("RecordService", "record_generation"): Case(
        "record_generation", lambda w: one(child_of(w.gid))
    ),
    ("RecordService", "record_generations"): Case(
        "record_generations", lambda w: one([child_of(w.gid)])
    ),
    ("RecordService", "has_content"): Case(
        "has_content", lambda w: one(w.sha), expect=lambda r: r is False
    ),
    ("RecordService", "import_folder"): Case(
        "import_folder",
        lambda w: one(w.folder_with_her_image),
        # her image is no duplicate of ada's: ada gets her own copy, grace keeps hers
        expect=lambda r: len(r.imported) == 1 and r.duplicates == (),
    ),
    ("RecordService", "get"): Case("get", lambda w: one(w.gid)),
    ("RecordService", "usage"): Case(
        "usage",
        lambda w: one(),
        expect=lambda r: r[0] == 1,  # ada's one image, not grace's two
    ),
    ("RecordService", "lineage"): Case("lineage", lambda w: one(w.child)),
    # SearchService
    ("SearchService", "search"): Case(
        "search",
        lambda w: [((GalleryQuery(text="owl"),), {}), ((GalleryQuery(user_id=GRACE),), {})],
        expect=lambda r: [i.prompt for i in r.items] in ([], ["ada's"]),
    ),
    ("SearchService", "count"): Case(
        "count",
        lambda w: [((GalleryQuery(tag="owl"),), {}), ((GalleryQuery(model_id="g/m"),), {})],
        expect=empty,
    ),
    ("SearchService", "models"): Case("models", lambda w: one(), expect=empty),
    ("SearchService", "tags"): Case("tags", lambda w: one(), expect=empty),
    # CurationService
    ("CurationService", "set_rating"): Case("set_rating", lambda w: one(w.gid, 5)),
    ("CurationService", "set_favourite"): Case("set_favourite", lambda w: one(w.gid, True)),
    ("CurationService", "set_notes"): Case("set_notes", lambda w: one(w.gid, "ada's now")),
    ("CurationService", "add_tag"): Case("add_tag", lambda w: one(w.gid, "ada")),
    ("CurationService", "remove_tag"): Case("remove_tag", lambda w: one(w.gid, "owl")),
    ("CurationService", "delete"): Case("delete", lambda w: [((w.gid,), {}), (([w.child],), {})]),
    ("CurationService", "export_zip"): Case(
        "export_zip",
        lambda w: one([w.gid], w.tmp / "out.zip"),
        also=lambda w, _: not (w.tmp / "out.zip").exists(),
    ),
    # ExperimentService
    ("ExperimentService", "create"): Case(
        "create_experiment",
        lambda w: one("grace's name", ["a"]),
        expect=lambda r: r.user_id == ADA and r.name == "grace's name",
    ),
    ("ExperimentService", "get"): Case("get_experiment", lambda w: one(w.experiment)),
    ("ExperimentService", "list"): Case(
        "list_experiments", lambda w: one(), expect=lambda r: [e.name for e in r] == ["ada's"]
    ),
    ("ExperimentService", "add_cell"): Case(
        "add_to_variant",
        lambda w: [((w.variant, w.her_gid_for_ada), {}), ((w.ada_variant, w.gid), {})],
    ),
    ("ExperimentService", "mark_running"): Case(
        "mark_experiment_running", lambda w: one(w.experiment)
    ),
    ("ExperimentService", "mark_stopped"): Case(
        "mark_experiment_stopped", lambda w: one(w.experiment)
    ),
    ("ExperimentService", "set_winner"): Case(
        "set_winner", lambda w: [((w.experiment, w.variant), {}), ((w.experiment, None), {})]
    ),
    ("ExperimentService", "delete"): Case(
        "delete_experiment",
        lambda w: [((w.experiment,), {}), ((w.experiment,), {"with_images": True})],
    ),
    ("ExperimentService", "add_vote"): Case("add_vote", lambda w: one(w.experiment, w.variant)),
    ("ExperimentService", "votes"): Case("votes", lambda w: one(w.experiment)),
    ("ExperimentService", "export"): Case(
        "export_experiment",
        lambda w: one(w.experiment, w.tmp / "experiment.zip"),
        also=lambda w, _: not (w.tmp / "experiment.zip").exists(),
    ),
    # ScoreService
    ("ScoreService", "save"): Case(
        "save_scores", lambda w: one([ScoreRecord(w.gid, "clip", 99.0, "ada", True)])
    ),
    ("ScoreService", "of"): Case("scores_of", lambda w: one([w.gid], "clip"), expect=empty),
    ("ScoreService", "ranked"): Case("ranked_by_score", lambda w: one("clip"), expect=empty),
    # StyleService
    ("StyleService", "list"): Case("list_user_styles", lambda w: one(), expect=empty),
    ("StyleService", "save"): Case(
        "save_user_style",
        lambda w: one(UserStyle("INK", "Ada's", "{prompt}, ada", "")),
        expect=lambda r: r is None,  # saved as ada's own: grace's "Ink" stays as it was
    ),
    ("StyleService", "save_many"): Case(
        "save_user_styles",
        lambda w: one([UserStyle("INK", "Ada's", "{prompt}, ada", "")]),
        expect=lambda r: r is None,  # saved as ada's own, in one transaction
    ),
    ("StyleService", "delete"): Case("delete_user_style", lambda w: one("ink")),
}


# --- grace's gallery, and what of it must never change -------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[GalleryStore]:
    with GalleryStore.open(tmp_path / "gallery") as opened:
        yield opened


@pytest.fixture
def world(store: GalleryStore, tmp_path: Path) -> SimpleNamespace:
    """Grace's generation (tagged, rated, scored, with a child and a file), her experiment
    with a cell and a vote, her style; ada's own generation and experiment to aim from."""
    grace, ada = store.for_owner(GRACE), store.for_owner(ADA)
    owl = Image.new("RGB", (16, 16), "red")
    gid = grace.record_generation(NewGeneration("grace's owl", seed=1, model_id="g/m", image=owl))
    child = grace.record_generation(
        NewGeneration("grace's owlet", seed=2, image=Image.new("RGB", (8, 8)), parent_id=gid)
    )
    grace.add_tag(gid, "owl")
    grace.set_rating(gid, 3)
    grace.set_notes(gid, "grace's notes")
    grace.save_scores([ScoreRecord(gid, "clip", 31.5, "test", True)])
    experiment = grace.create_experiment("grace's", [VariantSpec("a"), VariantSpec("b")])
    variant = experiment.variants[0].id
    grace.add_to_variant(variant, gid, 0)
    grace.add_vote(experiment.id, variant, experiment.variants[1].id)
    grace.set_winner(experiment.id, variant)
    grace.save_user_style(UserStyle("Ink", "Grace's", "{prompt}, ink", "blur"))
    image = grace.get(gid).image
    folder = tmp_path / "her-image"
    folder.mkdir()
    shutil.copyfile(image.path, folder / "owl.png")
    ada_gid = ada.record_generation(NewGeneration("ada's", seed=3, image=Image.new("RGB", (8, 8))))
    ada_experiment = ada.create_experiment("ada's", ["x"])
    return SimpleNamespace(
        gid=gid,
        child=child,
        sha=image.content_hash,
        experiment=experiment.id,
        variant=variant,
        her_gid_for_ada=ada_gid,
        ada_variant=ada_experiment.variants[0].id,
        folder_with_her_image=folder,
        tmp=tmp_path,
    )


def everything_of(store: GalleryStore, owner: str) -> dict[str, Any]:
    """Every row reachable from `owner`'s items, and their files' bytes."""

    def rows(statement: Any) -> list[tuple]:
        with store.engine.connect() as connection:
            return sorted(tuple(map(repr, row)) for row in connection.execute(statement))

    gens = select(Generation.id).where(Generation.user_id == owner)
    exps = select(Experiment.id).where(Experiment.user_id == owner)
    variants = select(ExperimentVariant.id).where(ExperimentVariant.experiment_id.in_(exps))
    tags = select(GenerationTag.generation_id, Tag.name).join(Tag, Tag.id == GenerationTag.tag_id)
    found = {
        "generations": rows(select(Generation.__table__).where(Generation.id.in_(gens))),
        "images": rows(select(ImageFile.__table__).where(ImageFile.generation_id.in_(gens))),
        "tags": rows(tags.where(GenerationTag.generation_id.in_(gens))),
        "scores": rows(
            select(GenerationScore.__table__).where(GenerationScore.generation_id.in_(gens))
        ),
        "experiments": rows(select(Experiment.__table__).where(Experiment.id.in_(exps))),
        "variants": rows(
            select(ExperimentVariant.__table__).where(ExperimentVariant.id.in_(variants))
        ),
        "cells": rows(
            select(VariantGeneration.__table__).where(VariantGeneration.variant_id.in_(variants))
        ),
        "votes": rows(
            select(ExperimentVote.__table__).where(ExperimentVote.experiment_id.in_(exps))
        ),
        "styles": rows(select(UserStyleRow.__table__).where(UserStyleRow.user_id == owner)),
    }
    with store.engine.connect() as connection:
        paths = connection.execute(
            select(ImageFile.path).where(ImageFile.generation_id.in_(gens))
        ).scalars()
        found["files"] = sorted((p, (store.root / p).read_bytes()) for p in paths)
    assert found["generations"] and found["experiments"] and found["styles"]  # there is a world
    return found


def ask(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except NotFoundError as exc:
        return exc


def check_case(store: GalleryStore, world: SimpleNamespace, case: Case, target: Any) -> None:
    """Run each of `case`'s calls through `target(args, kwargs)`; grace's things stay hers."""
    before = everything_of(store, GRACE)
    for args, kwargs in case.calls(world):
        outcome = ask(lambda args=args, kwargs=kwargs: target(args, kwargs))
        assert case.expect(outcome), f"{args} {kwargs} gave {outcome!r}"
        assert case.also(world, outcome)
        assert everything_of(store, GRACE) == before, f"{args} {kwargs} changed grace's items"


# --- the tests ----------------------------------------------------------------------------

METHODS = [(cls, name) for cls in service_classes() for name in public_methods(cls)]


def test_the_services_are_found_and_each_is_composed_by_the_store(store):
    names = {cls.__name__ for cls in service_classes()}
    assert {"RecordService", "SearchService", "CurationService", "MaintenanceService"} <= names
    composed = {type(value) for value in vars(store).values()}
    assert set(service_classes()) <= composed


@pytest.mark.parametrize(
    ("cls", "name"), METHODS, ids=[f"{cls.__name__}.{name}" for cls, name in METHODS]
)
def test_every_service_method_is_owner_scoped_or_admin_only(store, world, cls, name):
    method = getattr(cls, name)
    broken = owner_rule_broken(method)
    assert broken is None, f"{cls.__name__}.{name} {broken}"
    if is_admin_only(method):
        assert not hasattr(OwnerGallery, name), f"an owner's view offers admin-only {name}"
        return
    case = CASES.get((cls.__name__, name))
    assert case is not None, f"add a row for {cls.__name__}.{name} to CASES"
    service = next(value for value in vars(store).values() if type(value) is cls)
    bound = getattr(service, name)
    check_case(store, world, case, lambda args, kwargs: bound(*args, owner=ADA, **kwargs))


VIEW_METHODS = public_methods(OwnerGallery)


@pytest.mark.parametrize("name", VIEW_METHODS)
def test_every_method_of_an_owners_view_acts_for_that_owner_only(store, world, name):
    case = next((c for c in CASES.values() if c.view == name), None)
    assert case is not None, f"add a row reaching OwnerGallery.{name} to CASES"
    view = getattr(store.for_owner(ADA), name)
    check_case(store, world, case, lambda args, kwargs: view(*args, **kwargs))


def test_only_the_admin_view_has_the_maintenance_operations():
    extra = set(public_methods(AdminGallery)) - set(VIEW_METHODS)
    maintenance = {
        name
        for cls in service_classes()
        for name in public_methods(cls)
        if is_admin_only(getattr(cls, name))
    }
    assert extra and extra <= maintenance


def test_a_method_with_neither_an_owner_nor_the_admin_mark_is_caught():
    class NewService:
        def forgets(self, generation_id: int) -> None: ...

        def defaults(self, generation_id: int, *, owner: str = "local") -> None: ...

        def scoped(self, generation_id: int, *, owner: str) -> None: ...

    assert "not marked @admin_only" in owner_rule_broken(NewService.forgets)
    assert "default" in owner_rule_broken(NewService.defaults)
    assert owner_rule_broken(NewService.scoped) is None


def test_her_world_is_what_each_case_aims_at(store, world):
    """The cases would see grace's things if they asked as grace (so 'nothing' means
    something): her search, tags, models, scores, votes, styles and experiment are there."""
    grace = store.for_owner(GRACE)
    assert [i.id for i in grace.search().items] == [world.child, world.gid]
    assert grace.tags() == [("owl", 1)] and grace.models() == ["g/m"]
    assert grace.has_content(world.sha) and grace.scores_of([world.gid], "clip")
    assert grace.votes(world.experiment) and grace.list_user_styles()[0].name == "Ink"
    assert grace.lineage(world.child).ancestors[0].id == world.gid
    assert io.BytesIO(grace.get(world.gid).image.path.read_bytes()).read(8) == b"\x89PNG\r\n\x1a\n"
    assert Path(world.folder_with_her_image, "owl.png").is_file()
