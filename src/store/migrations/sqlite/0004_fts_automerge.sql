-- SPDX-License-Identifier: MIT
-- The search index merges its segments 16 at a time instead of FTS5's default 4 (SQLite).
-- Ingest writes one segment per batch; merging 4 at a time rewrote the index so often that
-- it was the writer's largest cost after the commit (BENCHMARKS.md, "Ingest"). The setting
-- is kept in message_fts_config, so it holds for every later connection.
INSERT INTO message_fts (message_fts, rank) VALUES ('automerge', 16);
