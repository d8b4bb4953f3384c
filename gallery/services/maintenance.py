"""`MaintenanceService`: what keeps the whole gallery sound, across every owner (admin only).

Sweep files left by abrupt stops (`gallery.sweep`), re-create lost records from the images
(`gallery.rebuild`), refresh the planner's statistics, and move a signed-out visitor's items
to the account they signed in with. Only `gallery.views.AdminGallery` offers these.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from sqlalchemy import exists, select, update

from gallery.deferred import DeferredFolder
from gallery.errors import GalleryError
from gallery.files import ImageFiles
from gallery.models import Experiment, Generation, UserStyleRow
from gallery.outages import outages_as_sentences
from gallery.owners import EVERY_OWNER, Owner, writing_owner
from gallery.rebuild import record_stored_images
from gallery.records import ImportReport, NewGeneration, SweepReport
from gallery.search import TextMode
from gallery.services.common import Sessions, admin_only
from gallery.services.recording import RecordService
from gallery.sweep import DEFAULT_GRACE_S, is_stale, sweep


class MaintenanceService:
    """Sweep, check, rebuild, optimize, and transfer items between owners."""

    def __init__(
        self, sessions: Sessions, files: ImageFiles, records: RecordService, text_mode: TextMode
    ) -> None:
        self._sessions = sessions
        self._files = files
        self._records = records
        self._text_mode = text_mode

    @admin_only
    def sweep(
        self, *, full: bool = False, grace_s: float = DEFAULT_GRACE_S, delete_ours: bool = False
    ) -> SweepReport:
        """Record the rows that waited for the database (`gallery.deferred`), then repair
        files left by abrupt stops (see `gallery.sweep`); `full` walks everything (what
        `gallery check` runs). Unrecorded images that carry our metadata are kept (and
        reported) unless `delete_ours`; `rebuild` records them again."""
        deferred = DeferredFolder(self._files.root)
        deferred.release_stale_claims(lambda host, pid, age: is_stale(host, pid, age, grace_s))
        recorded = self._records.record_deferred()
        with outages_as_sentences(self._sessions.folder):
            report = sweep(
                self._sessions.engine,
                self._files,
                grace_s=grace_s,
                full=full,
                delete_ours=delete_ours,
                keep=frozenset(deferred.hashes()),
            )
        return dataclasses.replace(report, recorded_deferred=recorded)

    @admin_only
    def rebuild(self, *, owner: Owner) -> ImportReport:
        """Re-create records for every stored image no row (of any owner) references, from
        the PNG's own metadata, as `owner`'s; files stay where they are. For a lost or
        replaced database."""
        return record_stored_images(_RebuildRecorder(self._records, owner), self._files)

    @admin_only
    def optimize(self) -> None:
        """Refresh the query planner's statistics (after a large import or fill)."""
        with self._sessions.writer.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
            if self._text_mode == "fts5":
                connection.exec_driver_sql(
                    "INSERT INTO generations_fts(generations_fts) VALUES ('optimize')"
                )

    @admin_only
    def transfer_owner(self, from_owner: str, to_owner: str) -> int:
        """Give everything of `from_owner` to `to_owner` (a signed-out visitor's gallery
        claimed at sign-in); return how many generations moved. A user style whose name
        `to_owner` already uses stays with `from_owner`."""
        source, target = writing_owner(from_owner), writing_owner(to_owner)
        if source == target:
            return 0
        with self._sessions.write() as session:
            moved = session.execute(
                update(Generation).where(Generation.user_id == source).values(user_id=target)
            ).rowcount
            session.execute(
                update(Experiment).where(Experiment.user_id == source).values(user_id=target)
            )
            taken = select(UserStyleRow.name_key).where(UserStyleRow.user_id == target)
            session.execute(
                update(UserStyleRow)
                .where(UserStyleRow.user_id == source, UserStyleRow.name_key.not_in(taken))
                .values(user_id=target)
            )
        return int(moved or 0)

    @admin_only
    def refuse_images_without_records(self) -> None:
        """`GalleryError` (nothing changed) when the database holds no generation while the
        folder holds images: a new, emptied or replaced database, or a mistyped URL."""
        with self._sessions.read() as session:
            if session.scalar(select(exists().where(Generation.id.is_not(None)))):
                return
        if self._files.any_settled_image(DeferredFolder(self._files.root).hashes()):
            raise GalleryError(
                "The gallery database has no records, yet the gallery folder holds images: "
                "the database may be new, emptied or replaced, or DATABASE_URL mistyped. "
                "Nothing was changed. Check DATABASE_URL, restore the database from the "
                "gallery's backups folder, or run `python app.py gallery rebuild` to re-create "
                "the records from the images' own metadata."
            )


class _RebuildRecorder:
    """Skips content any owner's row holds; records the rest for `owner`."""

    def __init__(self, records: RecordService, owner: Owner) -> None:
        self._records = records
        self._owner = owner

    def has_content(self, sha: str) -> bool:
        return self._records.has_content(sha, owner=EVERY_OWNER)

    def record_generations(self, items: Sequence[NewGeneration]) -> list[int]:
        return self._records.record_generations(items, owner=self._owner)
