"""The faces of the gallery that handlers hold: one owner's (`OwnerGallery`) and the admin's.

`OwnerGallery` has a real method for everything an owner does, each passing the view's owner
to a service of `gallery.services` (so an IDE follows every call, and a method missing here
does not exist rather than acting for someone else). Two owners are involved:

- `owner`: whose items are read and changed (`EVERY_OWNER` for an admin's view);
- `author`: whose new items are made and whose own lists (styles) are shown: the same
  owner, except for an admin visitor, who reads everyone's but writes as themself
  (`ui.hosting.visitors.VisitorGallery` overrides both properties per request).

`AdminGallery` (`store.admin()`) reads every owner's items and alone has the maintenance
operations (sweep, rebuild, optimize, owner transfer).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from gallery.owners import EVERY_OWNER, EveryOwner, Owner, writing_owner
from gallery.records import (
    ExperimentRecord,
    GalleryQuery,
    GenerationRecord,
    ImportReport,
    Lineage,
    NewGeneration,
    Page,
    ScoreRecord,
    SweepReport,
    UserStyle,
    VariantSpec,
    VoteRecord,
)
from gallery.services.curation import CurationService
from gallery.services.experiments import ExperimentService
from gallery.services.maintenance import MaintenanceService
from gallery.services.recording import RecordService
from gallery.services.scores import ScoreService
from gallery.services.search import SearchService
from gallery.services.styles import StyleLike, StyleService
from gallery.sweep import DEFAULT_GRACE_S


class Services(Protocol):
    """What a view needs of the store: its services (`gallery.store.GalleryStore` has them)."""

    records: RecordService
    search: SearchService
    curation: CurationService
    experiments: ExperimentService
    scores: ScoreService
    styles: StyleService
    maintenance: MaintenanceService


class OwnerGallery:
    """One owner's gallery: every method acts for `owner` (new items for `author`)."""

    def __init__(self, services: Services, owner: Owner) -> None:
        self._services = services
        self._owner: Owner = owner if isinstance(owner, EveryOwner) else writing_owner(owner)

    @property
    def owner(self) -> Owner:
        """Whose items this view reads and changes."""
        return self._owner

    @property
    def author(self) -> Owner:
        """Whose new items this view makes and whose own styles it lists."""
        return self.owner

    def __repr__(self) -> str:
        return f"{type(self).__name__}(owner={self.owner!r})"

    # --- recording and reading (RecordService) -----------------------------------------

    def record_generation(self, item: NewGeneration) -> int:
        """Record one image; return its generation id."""
        return self._services.records.record_generation(item, owner=self.author)

    def record_generations(self, items: Sequence[NewGeneration]) -> list[int]:
        """Record a batch (one shared batch id), all or nothing; return the ids."""
        return self._services.records.record_generations(items, owner=self.author)

    def has_content(self, sha: str) -> bool:
        """Whether this owner has an image with this SHA-256 content hash."""
        return self._services.records.has_content(sha, owner=self.author)

    def import_folder(
        self, folder: str | os.PathLike[str], *, recursive: bool = True
    ) -> ImportReport:
        """Import every PNG, JPEG and WebP in `folder` (see `gallery.importers`)."""
        return self._services.records.import_folder(folder, recursive=recursive, owner=self.author)

    def get(self, generation_id: int) -> GenerationRecord:
        """Everything about one generation; `NotFoundError` if there is none."""
        return self._services.records.get(generation_id, owner=self.owner)

    def lineage(self, generation_id: int) -> Lineage:
        """A generation with its parents (root first) and all its descendants."""
        return self._services.records.lineage(generation_id, owner=self.owner)

    # --- search (SearchService) ----------------------------------------------------------

    def search(self, query: GalleryQuery | None = None) -> Page:
        """One page of generations matching `query`, newest first."""
        return self._services.search.search(query, owner=self.owner)

    def count(self, query: GalleryQuery | None = None) -> int:
        """How many generations match `query` (its page is ignored)."""
        return self._services.search.count(query, owner=self.owner)

    def models(self) -> list[str]:
        """Every model id in the gallery, sorted."""
        return self._services.search.models(owner=self.owner)

    def tags(self) -> list[tuple[str, int]]:
        """Every tag with how many generations carry it, by name."""
        return self._services.search.tags(owner=self.owner)

    # --- curation (CurationService) ------------------------------------------------------

    def set_rating(self, generation_id: int, rating: int | None) -> None:
        """Rate a generation 0-5, or clear the rating with None."""
        self._services.curation.set_rating(generation_id, rating, owner=self.owner)

    def set_favourite(self, generation_id: int, favourite: bool = True) -> None:
        """Mark or unmark a generation as favourite."""
        self._services.curation.set_favourite(generation_id, favourite, owner=self.owner)

    def set_notes(self, generation_id: int, notes: str) -> None:
        """Replace a generation's notes."""
        self._services.curation.set_notes(generation_id, notes, owner=self.owner)

    def add_tag(self, generation_id: int, tag: str) -> None:
        """Tag a generation; adding twice is harmless."""
        self._services.curation.add_tag(generation_id, tag, owner=self.owner)

    def remove_tag(self, generation_id: int, tag: str) -> None:
        """Remove a tag from a generation; removing an absent tag is harmless."""
        self._services.curation.remove_tag(generation_id, tag, owner=self.owner)

    def delete(self, generation_ids: int | Iterable[int]) -> int:
        """Delete generations with their images, tags and files; return how many."""
        return self._services.curation.delete(generation_ids, owner=self.owner)

    def export_zip(
        self,
        generation_ids: Iterable[int],
        out_path: str | os.PathLike[str],
        *,
        image_format: str = "png",
    ) -> Path:
        """Write images with `settings.csv` and `settings.json` to a zip."""
        return self._services.curation.export_zip(
            generation_ids, out_path, owner=self.owner, image_format=image_format
        )

    # --- experiments, votes and scores (ExperimentService, ScoreService) ---------------

    def create_experiment(
        self,
        name: str,
        variants: Sequence[VariantSpec | str],
        *,
        description: str = "",
        kind: str = "compare",
        settings: dict[str, Any] | None = None,
        seeds: Sequence[int] = (),
        axis: dict[str, Any] | None = None,
    ) -> ExperimentRecord:
        """Create an experiment with its variants in order (see `ExperimentService.create`)."""
        return self._services.experiments.create(
            name,
            variants,
            description=description,
            owner=self.author,
            kind=kind,
            settings=settings,
            seeds=seeds,
            axis=axis,
        )

    def get_experiment(self, experiment_id: int) -> ExperimentRecord:
        """An experiment with its variants, cells and generations."""
        return self._services.experiments.get(experiment_id, owner=self.owner)

    def list_experiments(self) -> list[ExperimentRecord]:
        """Every experiment, newest first."""
        return self._services.experiments.list(owner=self.owner)

    def add_to_variant(
        self,
        variant_id: int,
        generation_id: int,
        seed_index: int | None = None,
        axis_index: int | None = None,
    ) -> None:
        """Count a generation as made for a variant, as the grid cell at (`seed_index`,
        `axis_index`) when given; adding twice is harmless."""
        self._services.experiments.add_cell(
            variant_id, generation_id, seed_index, axis_index, owner=self.owner
        )

    def mark_experiment_running(self, experiment_id: int) -> None:
        """This process is making the experiment's cells (at the start and after each batch)."""
        self._services.experiments.mark_running(experiment_id, owner=self.owner)

    def mark_experiment_stopped(self, experiment_id: int) -> None:
        """The run making the experiment's cells ended (finished, stopped or failed)."""
        self._services.experiments.mark_stopped(experiment_id, owner=self.owner)

    def set_winner(self, experiment_id: int, variant_id: int | None) -> None:
        """Mark one variant of an experiment as the winner, or clear it with None."""
        self._services.experiments.set_winner(experiment_id, variant_id, owner=self.owner)

    def delete_experiment(self, experiment_id: int, *, with_images: bool = False) -> None:
        """Delete an experiment with its variants and votes (`with_images`: its cells'
        generations too)."""
        self._services.experiments.delete(experiment_id, with_images=with_images, owner=self.owner)

    def add_vote(
        self,
        experiment_id: int,
        winner_variant_id: int,
        loser_variant_id: int | None = None,
        *,
        seed_index: int | None = None,
        axis_index: int | None = None,
        blind: bool = False,
    ) -> VoteRecord:
        """Record a judgement on an experiment (see `VoteRecord`)."""
        return self._services.experiments.add_vote(
            experiment_id,
            winner_variant_id,
            loser_variant_id,
            seed_index=seed_index,
            axis_index=axis_index,
            blind=blind,
            owner=self.owner,
        )

    def votes(self, experiment_id: int) -> list[VoteRecord]:
        """Every vote of an experiment, oldest first."""
        return self._services.experiments.votes(experiment_id, owner=self.owner)

    def export_experiment(
        self,
        experiment_id: int,
        out_path: str | os.PathLike[str],
        contact_sheet_png: bytes | None = None,
    ) -> Path:
        """Write an experiment's zip: contact sheet, cell PNGs, CSVs."""
        return self._services.experiments.export(
            experiment_id, out_path, contact_sheet_png, owner=self.owner
        )

    def save_scores(self, scores: Sequence[ScoreRecord]) -> None:
        """Save (or replace) scores of generations, all or nothing."""
        self._services.scores.save(scores, owner=self.owner)

    def scores_of(self, generation_ids: Iterable[int], metric: str) -> dict[int, ScoreRecord]:
        """The `metric` score of each generation that has one."""
        return self._services.scores.of(generation_ids, metric, owner=self.owner)

    def ranked_by_score(
        self, metric: str, *, limit: int = 50, descending: bool = True
    ) -> list[ScoreRecord]:
        """Generations sorted by their `metric` score, best first by default."""
        return self._services.scores.ranked(
            metric, limit=limit, descending=descending, owner=self.owner
        )

    # --- user styles (StyleService) ------------------------------------------------------

    def list_user_styles(self) -> list[UserStyle]:
        """The saved styles, in the order they were first saved."""
        return self._services.styles.list(owner=self.author)

    def save_user_style(self, style: StyleLike) -> None:
        """Add a style, or replace the saved one with the same name (ignoring case)."""
        self._services.styles.save(style, owner=self.author)

    def delete_user_style(self, name: str) -> None:
        """Delete the saved style called `name` (ignoring case); `NotFoundError` if none."""
        self._services.styles.delete(name, owner=self.author)


class AdminGallery(OwnerGallery):
    """Every owner's gallery (reads and changes; nothing is created for 'every owner') and
    the maintenance operations, which no other view has."""

    def __init__(self, services: Services) -> None:
        super().__init__(services, EVERY_OWNER)

    def sweep(
        self, *, full: bool = False, grace_s: float = DEFAULT_GRACE_S, delete_ours: bool = False
    ) -> SweepReport:
        """Repair files left by abrupt stops; `full` walks everything (`gallery check`)."""
        return self._services.maintenance.sweep(full=full, grace_s=grace_s, delete_ours=delete_ours)

    def record_deferred(self) -> int:
        """Record the rows that waited for the database during an outage (every owner's);
        how many generations were recorded."""
        return self._services.records.record_deferred()

    def rebuild(self, *, owner: Owner) -> ImportReport:
        """Re-create records, as `owner`'s, for every stored image no row references."""
        return self._services.maintenance.rebuild(owner=owner)

    def optimize(self) -> None:
        """Refresh the query planner's statistics (after a large import or fill)."""
        self._services.maintenance.optimize()

    def transfer_owner(self, from_owner: str, to_owner: str) -> int:
        """Give everything of `from_owner` to `to_owner`; return how many generations moved."""
        return self._services.maintenance.transfer_owner(from_owner, to_owner)
