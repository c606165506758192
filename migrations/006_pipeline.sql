-- The processing pipeline: stored -> detected -> classified -> done, shared by every worker process.
--
-- A worker leases a batch of images of one stage (FOR UPDATE SKIP LOCKED, claimed_by/claimed_until);
-- it moves an image on only while it still holds the lease, in the transaction that writes the results,
-- so a crashed worker's images are taken again when the lease runs out and never processed twice.
ALTER TABLE images
    ADD COLUMN claimed_by    text,
    ADD COLUMN claimed_until timestamptz,
    ADD COLUMN retry_at      timestamptz,            -- backoff after a transient failure
    ADD COLUMN last_error    text,
    ADD COLUMN trace_id      uuid NOT NULL DEFAULT gen_random_uuid(),   -- one id through every log line
    ADD COLUMN blur_all      boolean NOT NULL DEFAULT false,            -- detection failed for good: fail closed
    ADD COLUMN processed_at  timestamptz;
-- The claim's order (live photos first, then oldest); not partial, so a generic plan for "stage = $1" uses it.
CREATE INDEX images_work ON images (stage, realtime DESC, id);
CREATE INDEX images_claimed ON images (claimed_by) WHERE claimed_by IS NOT NULL;
CREATE INDEX images_processed ON images (processed_at DESC) WHERE processed_at IS NOT NULL;

-- Top-5 per box: one row per (box, model, rank).
ALTER TABLE classifications
    ADD COLUMN rank smallint NOT NULL DEFAULT 1 CHECK (rank BETWEEN 1 AND 5),
    DROP CONSTRAINT classifications_detection_id_model_key,
    ADD CONSTRAINT classifications_per_rank UNIQUE (detection_id, model, rank);

-- Sequences: the photos of one camera less than sequence_gap_s apart are one event.
ALTER TABLE projects
    ADD COLUMN sequence_gap_s integer NOT NULL DEFAULT 60 CHECK (sequence_gap_s BETWEEN 0 AND 3600),
    ADD COLUMN allowed_species text[] NOT NULL DEFAULT '{}',          -- empty: every label of the model
    ADD COLUMN species_thresholds jsonb NOT NULL DEFAULT '{}';        -- taxon -> minimum score

CREATE TABLE events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id    bigint NOT NULL REFERENCES projects ON DELETE CASCADE,
    camera_id     bigint REFERENCES cameras ON DELETE CASCADE,
    started_at    timestamptz NOT NULL,
    ended_at      timestamptz NOT NULL,
    image_count   integer NOT NULL DEFAULT 0,
    label         detection_label,                  -- best evidence across the event's photos
    taxon         text,
    common_name   text,
    score         real,
    max_count     integer NOT NULL DEFAULT 0,       -- most boxes of that label in one photo
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_camera_time ON events (camera_id, ended_at);
ALTER TABLE images ADD COLUMN event_id bigint REFERENCES events ON DELETE SET NULL;
CREATE INDEX images_event ON images (event_id);

CREATE INDEX dead_letters_open ON dead_letters (created_at DESC) WHERE retried_at IS NULL;

-- Wake the workers of the next stage at once (they also poll, so a lost notification only delays).
CREATE FUNCTION notify_work() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('addax_work', NEW.stage::text);
    RETURN NULL;
END $$;
CREATE TRIGGER images_work_notify AFTER INSERT OR UPDATE OF stage ON images
    FOR EACH ROW WHEN (NEW.stage IN ('stored', 'detected', 'classified'))
    EXECUTE FUNCTION notify_work();
