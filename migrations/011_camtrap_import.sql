-- Camtrap DP imports: which Addax row each record of a package became, so importing the same package again
-- adds nothing (every record is looked up by its package's id and its own ID before anything is written).
-- kind: deployment | media | observation; target_id: the deployment, image, or verification's or detection's
-- image (NULL: the record was read and deliberately not stored, e.g. a blank machine observation).
CREATE TABLE camtrap_imported (
    project_id    bigint NOT NULL REFERENCES projects ON DELETE CASCADE,
    package       text NOT NULL,                  -- the descriptor's id (else its name, else its hash)
    kind          text NOT NULL CHECK (kind IN ('deployment', 'media', 'observation')),
    source_id     text NOT NULL,                  -- deploymentID, mediaID or observationID in the package
    target_id     bigint,
    created       boolean NOT NULL DEFAULT false, -- media: the image was brought by this package (not matched)
    imported_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, package, kind, source_id)
);
