"""The words in SQLite's full-text index, so a search for a word's start can name whole words.

FTS5 answers `"masterpi"*` by merging the row lists of every indexed word that starts so
before it returns a row: 30 ms at a million prompts when the word is common, and more for a
short start like `a*`. The same search written with the words themselves,
`("masterpiece" OR "masterpieces")`, streams newest first and stops after a page (0.1 ms).

FTS5's vocabulary table would list the words, but counts each word's rows while doing so (as
slow as the merge), so migration 0007 keeps them in `generations_fts_terms`; new prompts reach
it through `generations_fts_pending`, a contentless FTS5 table a trigger fills with the same
tokenizer, whose few words are read together with the terms until `flush` moves them over.
The terms table may keep words no prompt has any more: they match nothing.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

TERMS_TABLE = "generations_fts_terms"
PENDING_TABLE = "generations_fts_pending"
PENDING_VOCABULARY = "generations_fts_pending_vocab"
MAX_EXPANSION = 64  # words a start may expand into; beyond, FTS5 merges them itself

_PREFIX_TERMS = text(
    f"SELECT term FROM {TERMS_TABLE} WHERE term >= :low AND term < :high "
    f"UNION SELECT term FROM {PENDING_VOCABULARY} WHERE term >= :low AND term < :high "
    "ORDER BY term LIMIT :limit"
)


def prefix_terms(connection: Connection, word: str) -> list[str] | None:
    """The indexed words that start with `word` (none: nothing can match), or None when the
    start cannot be expanded: a word that is not plain ASCII (the tokenizer folds case and
    accents of other letters its own way) or one that starts more than `MAX_EXPANSION` words.
    """
    if not word or not word.isascii() or not word.isalnum():
        return None
    low = word.lower()
    high = low[:-1] + chr(ord(low[-1]) + 1)
    found = connection.execute(
        _PREFIX_TERMS, {"low": low, "high": high, "limit": MAX_EXPANSION + 1}
    ).scalars()
    terms = list(found)
    return None if len(terms) > MAX_EXPANSION else terms


def flush(connection: Connection) -> None:
    """Move the words of prompts recorded since the last flush into the terms table."""
    connection.execute(
        text(f"INSERT OR IGNORE INTO {TERMS_TABLE} (term) SELECT term FROM {PENDING_VOCABULARY}")
    )
    connection.execute(_EMPTY_PENDING)


def rebuild(connection: Connection) -> None:
    """Re-read every word from the full-text index (seconds at a million prompts)."""
    connection.execute(text(f"CREATE VIRTUAL TABLE temp.{_ALL_WORDS} USING fts5vocab({_INDEX})"))
    try:
        connection.execute(text(f"DELETE FROM {TERMS_TABLE}"))
        connection.execute(
            text(f"INSERT INTO {TERMS_TABLE} (term) SELECT term FROM temp.{_ALL_WORDS}")
        )
        connection.execute(_EMPTY_PENDING)
    finally:
        connection.execute(text(f"DROP TABLE temp.{_ALL_WORDS}"))


_EMPTY_PENDING = text(f"INSERT INTO {PENDING_TABLE} ({PENDING_TABLE}) VALUES ('delete-all')")
_ALL_WORDS = "atelier_fts_words"
_INDEX = "main, generations_fts, row"
