"""Search finds what is in attached files, and folds diacritics on PostgreSQL too.

Attachments get `extracted_text`: the words inside the file, read in the background by the
worker (NULL: not read yet; "": nothing to read). On PostgreSQL, "Zoë" and "Zoe" become the
same word in the index and in queries through `mailhub_fold`, an IMMUTABLE SQL function
(translate() of the accented Latin letters to their base letters), so it can be used in the
stored tsvector column and its indexes; SQLite's FTS5 already folds them (remove_diacritics).

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-29 17:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

# Each letter of ACCENTED becomes the letter at the same place in PLAIN: the Latin letters of
# U+00C0–U+024F and U+1E00–U+1EFF whose compatibility decomposition is an ASCII letter and
# combining marks, and ø đ ł ħ ı ŧ, which have none. Frozen here, as a migration must be.
ACCENTED = (
    "ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöùúûüýÿĀāĂăĄąĆ"
    "ćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĨĩĪīĬĭĮįİĴĵĶķĹĺĻļĽľŃńŅņŇňŌōŎŏŐő"
    "ŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžƠơƯưǍǎǏǐǑǒǓǔǕǖǗǘǙǚǛ"
    "ǜǞǟǠǡǦǧǨǩǪǫǬǭǰǴǵǸǹǺǻȀȁȂȃȄȅȆȇȈȉȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚțȞȟȦȧȨȩȪȫȬȭȮȯ"
    "ȰȱȲȳḀḁḂḃḄḅḆḇḈḉḊḋḌḍḎḏḐḑḒḓḔḕḖḗḘḙḚḛḜḝḞḟḠḡḢḣḤḥḦḧḨḩḪḫḬḭḮḯḰḱḲḳḴḵḶḷ"
    "ḸḹḺḻḼḽḾḿṀṁṂṃṄṅṆṇṈṉṊṋṌṍṎṏṐṑṒṓṔṕṖṗṘṙṚṛṜṝṞṟṠṡṢṣṤṥṦṧṨṩṪṫṬṭṮṯṰṱṲṳ"
    "ṴṵṶṷṸṹṺṻṼṽṾṿẀẁẂẃẄẅẆẇẈẉẊẋẌẍẎẏẐẑẒẓẔẕẖẗẘẙẛẠạẢảẤấẦầẨẩẪẫẬậẮắẰằẲẳẴ"
    "ẵẶặẸẹẺẻẼẽẾếỀềỂểỄễỆệỈỉỊịỌọỎỏỐốỒồỔổỖỗỘộỚớỜờỞởỠỡỢợỤụỦủỨứỪừỬửỮữỰ"
    "ựỲỳỴỵỶỷỸỹøØđĐłŁħĦıŧŦ"
)
PLAIN = (
    "AAAAAACEEEEIIIINOOOOOUUUUYaaaaaaceeeeiiiinooooouuuuyyAaAaAaC"
    "cCcCcCcDdEeEeEeEeEeGgGgGgGgHhIiIiIiIiIJjKkLlLlLlNnNnNnOoOoOo"
    "RrRrRrSsSsSsSsTtTtUuUuUuUuUuUuWwYyYZzZzZzOoUuAaIiOoUuUuUuUuU"
    "uAaAaGgKkOoOojGgNnAaAaAaEeEeIiIiOoOoRrRrUuUuSsTtHhAaEeOoOoOo"
    "OoYyAaBbBbBbCcDdDdDdDdDdEeEeEeEeEeFfGgHhHhHhHhHhIiIiKkKkKkLl"
    "LlLlLlMmMmMmNnNnNnNnOoOoOoOoPpPpRrRrRrRrSsSsSsSsSsTtTtTtTtUu"
    "UuUuUuUuVvVvWwWwWwWwWwXxXxYyZzZzZzhtwysAaAaAaAaAaAaAaAaAaAaA"
    "aAaEeEeEeEeEeEeEeEeIiIiOoOoOoOoOoOoOoOoOoOoOoOoUuUuUuUuUuUuU"
    "uYyYyYyYyoOdDlLhHitT"
)
FOLD = (
    "CREATE OR REPLACE FUNCTION mailhub_fold(value text) RETURNS text "
    "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE "
    f"AS $$ SELECT translate(value, '{ACCENTED}', '{PLAIN}') $$"
)


def upgrade() -> None:
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("extracted_text", sa.Text(), nullable=True))
    # What the worker has still to read, found without a scan of every attachment
    op.create_index(
        "ix_attachments_unread",
        "attachments",
        ["id"],
        sqlite_where=sa.text("extracted_text IS NULL"),
        postgresql_where=sa.text("extracted_text IS NULL"),
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FOLD)
    op.execute("DROP INDEX IF EXISTS ix_search_entries_fts_title")
    op.execute("DROP INDEX IF EXISTS ix_search_entries_fts")
    op.execute("ALTER TABLE search_entries DROP COLUMN search_vector")
    op.execute(
        "ALTER TABLE search_entries ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
        "(to_tsvector('simple', mailhub_fold(title || ' ' || body))) STORED"
    )
    # The title's words stored too: "titles first" walks entries newest first and tests each,
    # which must not fold and parse the title again for every entry it passes.
    op.execute(
        "ALTER TABLE search_entries ADD COLUMN title_vector tsvector GENERATED ALWAYS AS "
        "(to_tsvector('simple', mailhub_fold(title))) STORED"
    )
    op.execute("CREATE INDEX ix_search_entries_fts ON search_entries USING gin (search_vector)")
    op.execute(
        "CREATE INDEX ix_search_entries_fts_title ON search_entries USING gin (title_vector)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_search_entries_fts_title")
        op.execute("DROP INDEX IF EXISTS ix_search_entries_fts")
        op.execute("ALTER TABLE search_entries DROP COLUMN title_vector")
        op.execute("ALTER TABLE search_entries DROP COLUMN search_vector")
        op.execute(
            "ALTER TABLE search_entries ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
            "(to_tsvector('simple', title || ' ' || body)) STORED"
        )
        op.execute("CREATE INDEX ix_search_entries_fts ON search_entries USING gin (search_vector)")
        op.execute(
            "CREATE INDEX ix_search_entries_fts_title ON search_entries "
            "USING gin (to_tsvector('simple', title))"
        )
        op.execute("DROP FUNCTION IF EXISTS mailhub_fold(text)")
    op.drop_index("ix_attachments_unread", table_name="attachments")
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_column("extracted_text")
