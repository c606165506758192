-- The first schema: accounts and access, the camera world, images and what models say of them,
-- and the operational records (dead letters, health reports, the camera-updates feed, the audit log).

CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE projects (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name <> ''),
    timezone      text NOT NULL DEFAULT 'UTC',
    require_camera_registration boolean NOT NULL DEFAULT false,
    require_timestamp boolean NOT NULL DEFAULT false,
    site_radius_m double precision NOT NULL DEFAULT 250 CHECK (site_radius_m > 0),
    detection_threshold double precision NOT NULL DEFAULT 0.5 CHECK (detection_threshold BETWEEN 0 AND 1),
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text NOT NULL,
    password_hash text NOT NULL,                 -- argon2id
    is_server_admin boolean NOT NULL DEFAULT false,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TYPE project_role AS ENUM ('project-admin', 'viewer');

CREATE TABLE memberships (
    user_id       bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    project_id    bigint NOT NULL REFERENCES projects ON DELETE CASCADE,
    role          project_role NOT NULL,
    PRIMARY KEY (user_id, project_id)
);

-- Bearer tokens issued by POST /api/auth/token; only the SHA-256 of the token is kept.
CREATE TABLE api_tokens (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    token_sha256  bytea NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);

-- Failed logins, per account and per address, for lockout (pruned as they age out of the window).
CREATE TABLE auth_failures (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          text NOT NULL,                 -- 'user' | 'ftp'
    account       text NOT NULL,
    address       text NOT NULL,
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_failures_account ON auth_failures (kind, lower(account), at);
CREATE INDEX auth_failures_address ON auth_failures (kind, address, at);

-- FTPS accounts that cameras log in with.
CREATE TABLE upload_accounts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id    bigint NOT NULL REFERENCES projects ON DELETE CASCADE,
    name          text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9_.-]{1,64}$'),
    password_hash text NOT NULL,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Device tokens for HTTPS upload and the detect API; only the SHA-256 is kept.
CREATE TABLE device_tokens (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id    bigint NOT NULL REFERENCES projects ON DELETE CASCADE,
    name          text NOT NULL,
    token_sha256  bytea NOT NULL UNIQUE,
    revoked       boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    UNIQUE (project_id, name)
);

CREATE TABLE sites (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id    bigint NOT NULL REFERENCES projects ON DELETE CASCADE,
    name          text NOT NULL,
    location      geography(Point, 4326),
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);
CREATE INDEX sites_location ON sites USING gist (location);

CREATE TYPE camera_status AS ENUM ('pending', 'active', 'retired');

CREATE TABLE cameras (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id    bigint NOT NULL REFERENCES projects ON DELETE CASCADE,
    identity      text NOT NULL,                 -- serial, IMEI, upload path or make/model/account
    identity_kind text NOT NULL,                 -- 'serial' | 'imei' | 'path' | 'fallback'
    name          text NOT NULL,
    make          text,
    model         text,
    profile       text,
    timezone      text,                          -- the camera's clock zone when EXIF has no offset
    status        camera_status NOT NULL DEFAULT 'pending',
    last_location geography(Point, 4326),
    last_seen_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, identity)
);

CREATE TABLE deployments (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    camera_id     bigint NOT NULL REFERENCES cameras ON DELETE CASCADE,
    site_id       bigint REFERENCES sites ON DELETE SET NULL,
    location      geography(Point, 4326),
    starts_on     date NOT NULL,
    ends_on       date,                           -- NULL: still deployed
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_on IS NULL OR ends_on >= starts_on)
);
CREATE UNIQUE INDEX deployments_one_open_per_camera ON deployments (camera_id) WHERE ends_on IS NULL;

CREATE TYPE image_stage AS ENUM (
    'received', 'stored', 'detected', 'classified', 'done', 'rejected', 'failed'
);
CREATE TYPE media_kind AS ENUM ('photo', 'video', 'report');

CREATE TABLE images (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id    bigint NOT NULL REFERENCES projects ON DELETE CASCADE,
    camera_id     bigint REFERENCES cameras ON DELETE SET NULL,
    deployment_id bigint REFERENCES deployments ON DELETE SET NULL,
    site_id       bigint REFERENCES sites ON DELETE SET NULL,
    kind          media_kind NOT NULL DEFAULT 'photo',
    stage         image_stage NOT NULL DEFAULT 'received',
    reject_reason text,
    sha256        bytea NOT NULL,
    original_name text NOT NULL,
    source        text NOT NULL,                 -- 'ftp' | 'http' | 'import'
    upload_account text,
    size_bytes    bigint NOT NULL,
    width         integer,
    height        integer,
    taken_at      timestamptz,                   -- UTC
    utc_offset_minutes smallint,                 -- the camera's local offset at taken_at
    location      geography(Point, 4326),
    exif          jsonb NOT NULL DEFAULT '{}',
    original_key  text,                          -- object-store keys
    thumbnail_key text,
    annotated_key text,
    attempts      integer NOT NULL DEFAULT 0,
    received_at   timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, sha256)
);
CREATE INDEX images_stage ON images (stage) WHERE stage NOT IN ('done', 'rejected');
CREATE INDEX images_camera_taken ON images (camera_id, taken_at);
CREATE INDEX images_project_received ON images (project_id, id);

CREATE TYPE detection_label AS ENUM ('animal', 'person', 'vehicle');

CREATE TABLE detections (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    image_id      bigint NOT NULL REFERENCES images ON DELETE CASCADE,
    index         smallint NOT NULL,              -- position in the model's output, for classifications
    label         detection_label NOT NULL,
    score         real NOT NULL CHECK (score BETWEEN 0 AND 1),
    bbox          real[4] NOT NULL,               -- x, y, w, h normalised 0..1 from the top-left
    model         text NOT NULL,
    frame_offset_s real,                          -- for video keyframes
    UNIQUE (image_id, index)
);

CREATE TABLE classifications (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    detection_id  bigint NOT NULL REFERENCES detections ON DELETE CASCADE,
    taxon         text NOT NULL,
    common_name   text,
    score         real NOT NULL CHECK (score BETWEEN 0 AND 1),
    model         text NOT NULL,
    UNIQUE (detection_id, model)
);

CREATE TABLE dead_letters (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    image_id      bigint REFERENCES images ON DELETE CASCADE,
    stage         text NOT NULL,                  -- the work that failed: detect, classify, notify ...
    error         text NOT NULL,
    attempts      integer NOT NULL,
    payload       jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    retried_at    timestamptz
);

CREATE TABLE camera_health_reports (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    camera_id     bigint NOT NULL REFERENCES cameras ON DELETE CASCADE,
    report_date   date NOT NULL,
    signal_csq    smallint,
    temperature_c real,
    battery_pct   smallint,
    sd_free_mb    bigint,
    sd_total_mb   bigint,
    location      geography(Point, 4326),
    pictures_taken integer,
    pictures_sent integer,
    reported_at   timestamptz,
    raw           text NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (camera_id, report_date)
);

-- What the system decided about cameras (registered, joined a site, moved ...), for admins to review.
CREATE TABLE camera_updates (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    camera_id     bigint NOT NULL REFERENCES cameras ON DELETE CASCADE,
    kind          text NOT NULL,
    details       jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    resolved_by   bigint REFERENCES users ON DELETE SET NULL,
    resolved_at   timestamptz
);
CREATE INDEX camera_updates_recent ON camera_updates (created_at DESC);

CREATE TABLE audit_log (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor         text NOT NULL,                  -- user e-mail, 'cli:<unix user>' or 'system'
    action        text NOT NULL,
    target        text,
    details       jsonb NOT NULL DEFAULT '{}',
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_at ON audit_log (at DESC);
