-- SPDX-License-Identifier: MIT
-- Nothing to do on PostgreSQL: the migration gives SQLite's messages a search key that sorts
-- like time and keys its search index by it (sqlite/0007_search_time_key.sql); PostgreSQL's
-- search is the grams column and its GIN index, unchanged. The version numbers stay the same
-- on both.
SELECT 1;
