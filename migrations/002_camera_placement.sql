-- A far-away GPS reading waits here until a second one confirms the camera moved (one outlier never moves it).
ALTER TABLE cameras
    ADD COLUMN candidate_location geography(Point, 4326),
    ADD COLUMN candidate_since date;

-- Rejected files are rows too (stage 'rejected'); the same bytes rejected twice are one row.
CREATE INDEX images_rejected ON images (project_id, reject_reason) WHERE stage = 'rejected';
