-- SPDX-License-Identifier: MIT
-- Which messages and calls name a media file, for console downloads (GET /api/v1/media/{ref}):
-- the download is allowed when one of them is in the caller's scope. Partial: most rows have
-- no media.
CREATE INDEX messages_media ON messages (tenant_id, media) WHERE media IS NOT NULL;
CREATE INDEX calls_recording ON calls (tenant_id, recording) WHERE recording IS NOT NULL;
