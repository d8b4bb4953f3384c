"""Alembic environment for the gallery.

The app runs migrations in code (`gallery.database.upgrade_schema`), passing an open connection
in `config.attributes["connection"]`. For `alembic revision` by hand, the URL comes from
`DATABASE_URL` (e.g. `DATABASE_URL=sqlite:///atelier.db alembic -c <ini> revision -m "..."`).
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, create_engine, text

from gallery.database import include_object
from gallery.models import Base

# Any fixed number: replicas starting together on PostgreSQL migrate one after the other.
_PG_MIGRATION_LOCK = 0x41_74_65_6C


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
            )
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = create_engine(os.environ["DATABASE_URL"])
    with engine.begin() as own_connection:
        _run(own_connection)
