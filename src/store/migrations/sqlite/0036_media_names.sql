-- Media encrypted at rest (issue 20; docs/internals/keys.md, "Media"): media.path is now the
-- file's own name under the media root (a keyed hash when encrypted, per tenant), and a purged
-- file is unlinked by that name once no media row has it.
ALTER TABLE retention_files ADD COLUMN path TEXT;
CREATE INDEX media_path ON media (path);
