-- SPDX-License-Identifier: MIT
-- Nothing to do on PostgreSQL: the migration sets how SQLite's FTS5 index merges its
-- segments (sqlite/0004_fts_automerge.sql); the version numbers stay the same on both.
SELECT 1;
