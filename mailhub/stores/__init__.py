"""Where bytes live beside the database: the file store (attachments and thumbnails), the raw
mail store, and the secret box. Files before rows: a file is written before its row commits
and removed before its row is deleted."""
