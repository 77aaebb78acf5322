"""Search served by indexes, so its cost follows the matches, not the user's library.

PostgreSQL: each segment's English tsvector is stored (a generated column, so
it cannot drift from the text) with a GIN index on it, replacing the index on
the expression that the ranked query never used; file names get a trigram
index that serves the case-insensitive substring match. SQLite: an FTS5 table
with the trigram tokenizer (substring matches, as LIKE finds them), kept in
step with the segments by triggers. Neither is a Django field: search.py
reads them; rows are written as before.

On SQLite, Django alters a table by copying it into a new one, which drops its
triggers: a later migration that alters `transcript_segments` must run the
SQLITE statements below again (and rebuild the FTS table).
"""

from django.db import migrations

POSTGRES = [
    (
        "ALTER TABLE transcript_segments ADD COLUMN search_vector tsvector "
        "GENERATED ALWAYS AS (to_tsvector('english', text)) STORED",
        "ALTER TABLE transcript_segments DROP COLUMN search_vector",
    ),
    (
        "CREATE INDEX transcript_segments_search ON transcript_segments USING GIN (search_vector)",
        "DROP INDEX transcript_segments_search",
    ),
    (
        "DROP INDEX IF EXISTS transcript_segments_fts",
        "CREATE INDEX transcript_segments_fts ON transcript_segments USING GIN (to_tsvector('english', text))",
    ),
    ("CREATE EXTENSION IF NOT EXISTS pg_trgm", ""),
    (
        # The expression Django's icontains compares: UPPER("original_name"::text) LIKE UPPER(%s).
        "CREATE INDEX analysis_video_name_trgm ON analysis_video USING GIN ((UPPER(original_name::text)) gin_trgm_ops)",
        "DROP INDEX analysis_video_name_trgm",
    ),
]

SQLITE = [
    (
        "CREATE VIRTUAL TABLE transcript_segments_fts USING fts5("
        "text, content='transcript_segments', content_rowid='id', tokenize='trigram')",
        "DROP TABLE transcript_segments_fts",
    ),
    (
        "CREATE TRIGGER transcript_segments_fts_insert AFTER INSERT ON transcript_segments BEGIN "
        "INSERT INTO transcript_segments_fts(rowid, text) VALUES (new.id, new.text); END",
        "DROP TRIGGER transcript_segments_fts_insert",
    ),
    (
        "CREATE TRIGGER transcript_segments_fts_delete AFTER DELETE ON transcript_segments BEGIN "
        "INSERT INTO transcript_segments_fts(transcript_segments_fts, rowid, text) "
        "VALUES ('delete', old.id, old.text); END",
        "DROP TRIGGER transcript_segments_fts_delete",
    ),
    (
        "CREATE TRIGGER transcript_segments_fts_update AFTER UPDATE OF text ON transcript_segments BEGIN "
        "INSERT INTO transcript_segments_fts(transcript_segments_fts, rowid, text) "
        "VALUES ('delete', old.id, old.text); "
        "INSERT INTO transcript_segments_fts(rowid, text) VALUES (new.id, new.text); END",
        "DROP TRIGGER transcript_segments_fts_update",
    ),
    ("INSERT INTO transcript_segments_fts(transcript_segments_fts) VALUES ('rebuild')", ""),
]


def _statements(vendor: str) -> list[tuple[str, str]]:
    return {"postgresql": POSTGRES, "sqlite": SQLITE}.get(vendor, [])


def forwards(apps, schema_editor):
    for forward, _ in _statements(schema_editor.connection.vendor):
        schema_editor.execute(forward)


def backwards(apps, schema_editor):
    for _, backward in reversed(_statements(schema_editor.connection.vendor)):
        if backward:
            schema_editor.execute(backward)


class Migration(migrations.Migration):
    dependencies = [
        ("analysis", "0003_version"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
