-- Backfilled photos (addax import) must never raise real-time alerts: the flag travels with the row.
ALTER TABLE images ADD COLUMN realtime boolean NOT NULL DEFAULT true;
