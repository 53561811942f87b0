-- SPDX-License-Identifier: MIT
-- A message's rid (its search-index rowid) becomes a key that sorts like its time: the
-- millisecond of ts_us (clamped to 0..2^42 - 1) times 2^21, plus a number unique within that
-- millisecond (src/store/grams.h). A search then walks a query's doclists newest first and
-- stops after a page (src/store/ops_read.c). Existing rows are numbered within their
-- millisecond by (ts_us, id); rid 0 is never used. Nothing else refers to rid.
CREATE TEMP TABLE rekey (old INTEGER PRIMARY KEY, new INTEGER NOT NULL);
INSERT INTO rekey (old, new)
SELECT rid, (g << 21) + row_number() OVER (PARTITION BY g ORDER BY ts_us, id) - (g > 0)
FROM (SELECT rid, ts_us, id, CASE WHEN ts_us < 0 THEN 0 WHEN ts_us / 1000 > 4398046511103
      THEN 4398046511103 ELSE ts_us / 1000 END AS g FROM messages);
-- Old rids count up from 1, new ones are above 2^21 but for times in the first millisecond
-- of 1970: only then can a new rid equal an old one still to be moved, so only then are the
-- old ones moved out of the way first.
UPDATE messages SET rid = -rid
WHERE EXISTS (SELECT 1 FROM rekey WHERE new <= (SELECT max(old) FROM rekey));
UPDATE messages SET rid = r.new FROM rekey r WHERE r.old = abs(messages.rid);
-- The search index is contentless: its grams come back from its own terms (fts5vocab), into a
-- new table filled in rowid order (FTS5 starts a new segment whenever a rowid goes down).
CREATE VIRTUAL TABLE temp.message_fts_terms USING fts5vocab (main, message_fts, instance);
CREATE VIRTUAL TABLE message_fts_new USING fts5 (
    tenant_id UNINDEXED, grams, content = '', tokenize = 'ascii', detail = 'none',
    columnsize = 0
);
INSERT INTO message_fts_new (message_fts_new, rank) VALUES ('automerge', 16);
INSERT INTO message_fts_new (rowid, grams)
SELECT r.new, group_concat(t.term, ' ')
FROM temp.message_fts_terms t JOIN rekey r ON r.old = t.doc
GROUP BY r.new ORDER BY r.new;
DROP TABLE temp.message_fts_terms;
DROP TABLE message_fts;
ALTER TABLE message_fts_new RENAME TO message_fts;
DROP TABLE temp.rekey;
