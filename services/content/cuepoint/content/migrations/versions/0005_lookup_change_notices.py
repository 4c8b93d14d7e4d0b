"""A commit that changes what a playback lookup reads notifies the API processes, which keep the
lookups' answers in memory until then (lookup_cache.py). One statement-level trigger per table: a
transaction's notices on one channel with one payload arrive as one, so a bulk write costs a notice.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from cuepoint.content.lookup_cache import CHANGED_CHANNEL

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The teacher's lookup reads milestones and questions; the student's, the published version
# (lessons, lesson_versions), the video's lesson (videos) and questions.
LOOKUP_TABLES = ("lessons", "lesson_versions", "videos", "milestones", "questions")


def upgrade(schema: str) -> None:
    op.execute(f'''CREATE FUNCTION "{schema}".lookup_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('{CHANGED_CHANNEL}', ''); RETURN NULL; END $$''')
    for table in LOOKUP_TABLES:
        op.execute(f'''CREATE TRIGGER lookup_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
            ON "{schema}".{table} FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".lookup_changed()''')
