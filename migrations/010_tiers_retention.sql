-- Hot and cold tiers, and retention per project.

-- Where an image's original lives. Only the original is ever demoted; thumbnails, annotated copies and video
-- keyframes stay hot. The object moves first and the row after, so a 'hot' row may point at an object that is
-- already cold (it still reads: the tiered store tries both) until the next tiering run sets it right.
ALTER TABLE images
    ADD COLUMN original_tier text NOT NULL DEFAULT 'hot' CHECK (original_tier IN ('hot', 'cold'));
-- What to demote next: the oldest (received order = id) fully processed hot originals.
CREATE INDEX images_hot_done ON images (id) INCLUDE (size_bytes) WHERE original_tier = 'hot' AND stage = 'done';
-- What each tier holds, per project (addax storage status, the admin page, the hot budget): index-only sums.
CREATE INDEX images_tier_use ON images (original_tier, project_id) INCLUDE (size_bytes) WHERE original_key IS NOT NULL;

-- Retention: photos of a kind older than this many days (counted from when Addax received them) are deleted
-- with their objects. NULL keeps them forever; photos with an animal are always kept.
ALTER TABLE projects
    ADD COLUMN retention_blank_days integer CHECK (retention_blank_days > 0),
    ADD COLUMN retention_person_days integer CHECK (retention_person_days > 0),
    ADD COLUMN retention_vehicle_days integer CHECK (retention_vehicle_days > 0);
-- The candidates of a project: done photos without an animal, oldest first.
CREATE INDEX images_retention ON images (project_id, received_at)
    WHERE stage = 'done' AND NOT ('animal' = ANY (labels));
