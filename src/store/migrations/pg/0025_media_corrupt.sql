-- Corruption (issue 17): a media file whose bytes no longer match its hash raises one alert of
-- kind media_corrupt per tenant and file (matched holds "sha256:<hex>"), however often it is
-- asked for; the index makes the second insert of the same file a no-op.
CREATE UNIQUE INDEX alerts_media_corrupt ON alerts (tenant_id, matched) WHERE kind = 'media_corrupt';
