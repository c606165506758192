-- The dashboard: human verification of photos, an annotator role, and what a photo shows kept on its own row
-- so that the gallery filters by index instead of joining every box of every photo.

-- Sees a project and verifies its photos; administers nothing.
ALTER TYPE project_role ADD VALUE IF NOT EXISTS 'annotator' BEFORE 'viewer';

-- What a person says a photo shows. It wins over the models everywhere (gallery, insights, exports).
-- boxes: [{"detection": model box index or null for a box the model missed, "label": "animal", "taxon": ...,
--          "common_name": ..., "count": 1, "bbox": [x, y, w, h]}]
CREATE TABLE verifications (
    image_id      bigint PRIMARY KEY REFERENCES images ON DELETE CASCADE,
    boxes         jsonb NOT NULL DEFAULT '[]',
    blank         boolean NOT NULL DEFAULT false,          -- nothing there (a false trigger or a wrong box)
    individuals   integer CHECK (individuals >= 0),        -- how many animals, when the boxes don't say
    notes         text NOT NULL DEFAULT '',
    verified_by   bigint REFERENCES users ON DELETE SET NULL,
    verified_at   timestamptz NOT NULL DEFAULT now()
);

-- The photo's summary: labels and species at or above the project's detection threshold (top-1 of each box),
-- or the verification's when there is one (best_score stays the model's). Kept by the trigger below when a
-- photo is done, and by the store when someone verifies it.
ALTER TABLE images
    ADD COLUMN labels     text[] NOT NULL DEFAULT '{}',
    ADD COLUMN taxa       text[] NOT NULL DEFAULT '{}',
    ADD COLUMN best_score real,
    ADD COLUMN verified   boolean NOT NULL DEFAULT false,
    -- Someone a person marked (a person or vehicle the detector missed) is not blurred in the stored copies:
    -- every reader of the copies blurs them whole, and the original is for the project's admins. Kept through
    -- retries, re-detection and a cleared verification: once seen, fail closed.
    ADD COLUMN people_unblurred boolean NOT NULL DEFAULT false;
CREATE INDEX images_taxa ON images USING gin (taxa);
CREATE INDEX images_labels ON images USING gin (labels);
-- size_bytes rides along so that what each project stores (the admin page) is summed by an index-only scan
CREATE INDEX images_project_taken ON images (project_id, taken_at) INCLUDE (size_bytes);
CREATE INDEX images_unverified ON images (project_id, id) WHERE NOT verified AND stage = 'done';
CREATE INDEX images_verified ON images (project_id, id) WHERE verified;
-- The species a project has seen, for the gallery's menu: read from the index alone.
CREATE INDEX events_project_species ON events (project_id, taxon, common_name) WHERE taxon IS NOT NULL;

CREATE FUNCTION summarise_image() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    threshold double precision;
BEGIN
    SELECT detection_threshold INTO threshold FROM projects WHERE id = NEW.project_id;
    -- best_score is the model's confidence whoever verified the photo; labels and taxa are the person's then
    IF NEW.verified THEN
        SELECT max(d.score) INTO NEW.best_score FROM detections d WHERE d.image_id = NEW.id AND d.score >= threshold;
        RETURN NEW;
    END IF;
    SELECT coalesce(array_agg(DISTINCT d.label::text), '{}'), max(d.score)
      INTO NEW.labels, NEW.best_score
      FROM detections d WHERE d.image_id = NEW.id AND d.score >= threshold;
    SELECT coalesce(array_agg(DISTINCT c.taxon), '{}')
      INTO NEW.taxa
      FROM classifications c JOIN detections d ON d.id = c.detection_id
     WHERE d.image_id = NEW.id AND d.score >= threshold AND c.rank = 1;
    RETURN NEW;
END $$;
CREATE TRIGGER images_summary BEFORE UPDATE OF stage ON images
    FOR EACH ROW WHEN (NEW.stage = 'done') EXECUTE FUNCTION summarise_image();

UPDATE images SET stage = stage WHERE stage = 'done';

-- Rule settings and notification payloads were written as JSON strings inside jsonb (encoded twice); make
-- them the objects they always meant to be, so SQL can read their keys.
UPDATE alert_rules SET settings = (settings #>> '{}')::jsonb WHERE jsonb_typeof(settings) = 'string';
UPDATE notifications SET payload = (payload #>> '{}')::jsonb WHERE jsonb_typeof(payload) = 'string';
