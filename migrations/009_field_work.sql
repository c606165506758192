-- Field work: what rangers record about cameras in the field (maintenance, a photo of the install spot), free
-- tags on cameras and photos, and named groups of sites. Everything belongs to a project through its camera,
-- image or site and goes with it (ON DELETE CASCADE); the store checks that the things joined share a project.

CREATE TYPE maintenance_kind AS ENUM ('batteries', 'sd_card', 'moved', 'repaired', 'other');

CREATE TABLE camera_maintenance (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    camera_id     bigint NOT NULL REFERENCES cameras ON DELETE CASCADE,
    done_on       date NOT NULL,
    kind          maintenance_kind NOT NULL,
    note          text NOT NULL DEFAULT '' CHECK (length(note) <= 2000),
    done_by       bigint REFERENCES users ON DELETE SET NULL,
    done_by_email text NOT NULL,                 -- kept when the user is deleted: the log stays readable
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX camera_maintenance_camera ON camera_maintenance (camera_id, done_on DESC, id DESC);

-- A photo of where and how the camera is mounted, so the next visit puts it back the same way. Newest wins;
-- the earlier ones stay as history.
CREATE TABLE camera_reference_photos (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    camera_id     bigint NOT NULL REFERENCES cameras ON DELETE CASCADE,
    object_key    text NOT NULL,
    content_type  text NOT NULL,
    size_bytes    integer NOT NULL,
    uploaded_by   bigint REFERENCES users ON DELETE SET NULL,
    uploaded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX camera_reference_photos_camera ON camera_reference_photos (camera_id, id DESC);

CREATE TABLE camera_tags (
    camera_id     bigint NOT NULL REFERENCES cameras ON DELETE CASCADE,
    tag           text NOT NULL CHECK (length(tag) BETWEEN 1 AND 40),
    PRIMARY KEY (camera_id, tag)
);
CREATE INDEX camera_tags_tag ON camera_tags (tag);

CREATE TABLE image_tags (
    image_id      bigint NOT NULL REFERENCES images ON DELETE CASCADE,
    tag           text NOT NULL CHECK (length(tag) BETWEEN 1 AND 40),
    PRIMARY KEY (image_id, tag)
);
CREATE INDEX image_tags_tag ON image_tags (tag);

CREATE TABLE site_groups (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id    bigint NOT NULL REFERENCES projects ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);

CREATE TABLE site_group_members (
    group_id      bigint NOT NULL REFERENCES site_groups ON DELETE CASCADE,
    site_id       bigint NOT NULL REFERENCES sites ON DELETE CASCADE,
    PRIMARY KEY (group_id, site_id)
);
CREATE INDEX site_group_members_site ON site_group_members (site_id);
