"""Keeping the database's query planner informed while a gallery grows, without anyone asking.

A planner with no statistics guesses: SQLite at a million rows then reads a month through the
owner index that covers every row (1.4 s instead of 0.5 ms), and sorts a whole rating range
instead of walking the newest rows (150 ms instead of 0.6 ms). So the store refreshes them:

- after a migration (new indexes have no statistics yet): SQLite `ANALYZE`, PostgreSQL
  `ANALYZE`;
- every `REFRESH_EVERY` recordings: SQLite `PRAGMA optimize`, which re-analyzes only the tables
  that grew enough to matter (and `ANALYZE` the first time, when there are no statistics),
  each bounded by `PRAGMA analysis_limit` (a fraction of a second at a million rows); and the
  new prompts' words join the full-text terms (`gallery.fts_terms.flush`). PostgreSQL's
  autovacuum re-analyzes a table as it grows, so nothing is added there.

A refresh that fails (the database busy or gone) is skipped: statistics are never worth a
failed recording; the next one tries again.
"""

from __future__ import annotations

import threading

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

import gallery.fts_terms as fts_terms
from gallery.database import writer
from gallery.search import TextMode

REFRESH_EVERY = 500
ANALYSIS_LIMIT = 1000  # rows SQLite's ANALYZE samples per index (its docs: 100-1000)
# PRAGMA optimize: 0x2 analyze the tables that need it, 0x10000 look at every table, not
# only those this connection has read.
_OPTIMIZE_MASK = 0x10002


class PlannerStatistics:
    """Refreshes the planner's statistics after migrations and every `every` recordings."""

    def __init__(self, engine: Engine, text_mode: TextMode, every: int = REFRESH_EVERY) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._text_mode = text_mode
        self._every = every
        self._since = 0
        self._lock = threading.Lock()

    def recorded(self, count: int) -> None:
        """Note `count` new generations; refresh when `every` have come since the last time."""
        with self._lock:
            self._since += count
            due = self._since >= self._every
            if due:
                self._since = 0
        if due:
            self.refresh(thorough=False, quietly=True)

    def refresh(self, *, thorough: bool, quietly: bool = False) -> None:
        """Bring the statistics up to date: all of them when `thorough` (after a migration, or
        asked by an admin), else what grew. `quietly`: a failure is skipped, not raised."""
        try:
            with writer(self._engine).begin() as connection:
                if not self._sqlite:
                    if thorough:
                        connection.execute(text("ANALYZE"))
                    return
                connection.execute(text(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}"))
                if thorough or _never_analyzed(connection):
                    connection.execute(text("ANALYZE"))
                else:
                    connection.execute(text(f"PRAGMA optimize={_OPTIMIZE_MASK}"))
                if self._text_mode == "fts5":
                    fts_terms.flush(connection)
        except SQLAlchemyError:
            if not quietly:
                raise


def _never_analyzed(connection: Connection) -> bool:
    """Whether SQLite has no statistics for `generations` (PRAGMA optimize would not add any)."""
    tables = text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
    if connection.execute(tables).scalar() is None:
        return True
    rows = text("SELECT 1 FROM sqlite_stat1 WHERE tbl = 'generations' LIMIT 1")
    return connection.execute(rows).scalar() is None
