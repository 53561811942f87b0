-- SPDX-License-Identifier: MIT
-- Every message gets a search key that sorts like its time, and the search index is keyed by
-- it: the millisecond of ts_us (clamped to 0..2^42 - 1) times 2^21, plus a number unique
-- within that millisecond (src/store/grams.h). A search then walks a query's doclists newest
-- first and stops after a page (src/store/ops_read.c). rid stays the row's number (rows are
-- appended); the index messages_skey maps a key back to its row. Existing rows are numbered
-- within their millisecond by (ts_us, id), from 1 in the first millisecond of 1970.
ALTER TABLE messages ADD COLUMN skey INTEGER;
CREATE TEMP TABLE rekey (rid INTEGER PRIMARY KEY, skey INTEGER NOT NULL);
INSERT INTO rekey (rid, skey)
SELECT rid, (g << 21) + row_number() OVER (PARTITION BY g ORDER BY ts_us, id) - (g > 0)
FROM (SELECT rid, ts_us, id, CASE WHEN ts_us < 0 THEN 0 WHEN ts_us / 1000 > 4398046511103
      THEN 4398046511103 ELSE ts_us / 1000 END AS g FROM messages);
UPDATE messages SET skey = (SELECT r.skey FROM rekey r WHERE r.rid = messages.rid);
CREATE UNIQUE INDEX messages_skey ON messages (skey);
-- The search index is contentless: its grams come back from its own terms (fts5vocab), into a
-- new table filled in key order (FTS5 starts a new segment whenever a rowid goes down).
CREATE VIRTUAL TABLE temp.message_fts_terms USING fts5vocab (main, message_fts, instance);
CREATE VIRTUAL TABLE message_fts_new USING fts5 (
    tenant_id UNINDEXED, grams, content = '', tokenize = 'ascii', detail = 'none',
    columnsize = 0
);
INSERT INTO message_fts_new (message_fts_new, rank) VALUES ('automerge', 16);
INSERT INTO message_fts_new (rowid, grams)
SELECT r.skey, t.grams
FROM (SELECT doc, group_concat(term, ' ') AS grams FROM temp.message_fts_terms GROUP BY doc) t
JOIN rekey r ON r.rid = t.doc ORDER BY r.skey;
DROP TABLE temp.message_fts_terms;
DROP TABLE message_fts;
ALTER TABLE message_fts_new RENAME TO message_fts;
DROP TABLE temp.rekey;
