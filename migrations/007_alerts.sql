-- Alerts: users' rules, the notifications they produce (an outbox, delivered by arq jobs), Telegram links,
-- the scheduler's jobs and the conditions that fire once and re-arm.

CREATE TABLE alert_rules (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    project_id    bigint NOT NULL REFERENCES projects ON DELETE CASCADE,
    name          text NOT NULL CHECK (name <> ''),
    kind          text NOT NULL,                  -- detection | camera_health | project | theft_watch | reminder ...
    settings      jsonb NOT NULL DEFAULT '{}',    -- the kind's own settings (addax.domain.alerts)
    channels      text[] NOT NULL CHECK (cardinality(channels) > 0),
    enabled       boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_rules_project ON alert_rules (project_id, kind) WHERE enabled;
CREATE INDEX alert_rules_user ON alert_rules (user_id);

-- One row per message to one person on one channel. The delivery key (rule, event or condition, channel)
-- is unique, so a rule never alerts twice for the same thing, whatever crashes between matching and sending.
CREATE TABLE notifications (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_key  text NOT NULL UNIQUE,
    rule_id       bigint REFERENCES alert_rules ON DELETE SET NULL,
    user_id       bigint REFERENCES users ON DELETE CASCADE,
    project_id    bigint REFERENCES projects ON DELETE CASCADE,
    camera_id     bigint REFERENCES cameras ON DELETE SET NULL,
    image_id      bigint REFERENCES images ON DELETE SET NULL,
    event_id      bigint REFERENCES events ON DELETE SET NULL,
    channel       text NOT NULL CHECK (channel IN ('email', 'telegram')),
    recipient     text NOT NULL,                  -- the address or chat id when it matched
    kind          text NOT NULL,                  -- the template: detection | status | reminder | digest | species_report
    subject       text NOT NULL,
    payload       jsonb NOT NULL,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'suppressed')),
    attempts      integer NOT NULL DEFAULT 0,
    error         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz
);
CREATE INDEX notifications_pending ON notifications (id) WHERE status = 'pending';
CREATE INDEX notifications_user ON notifications (user_id, id DESC);
CREATE INDEX notifications_rule_camera ON notifications (rule_id, camera_id, created_at DESC);

-- A delivery that failed for good is a dead letter too; the image or the notification it is about.
ALTER TABLE dead_letters ADD COLUMN notification_id bigint REFERENCES notifications ON DELETE CASCADE;

CREATE TABLE telegram_links (
    user_id       bigint PRIMARY KEY REFERENCES users ON DELETE CASCADE,
    chat_id       bigint NOT NULL,
    username      text,
    linked_at     timestamptz NOT NULL DEFAULT now()
);

-- One-time deep-link tokens (t.me/<bot>?start=<token>); only the SHA-256 is kept.
CREATE TABLE telegram_link_tokens (
    token_sha256  bytea PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    expires_at    timestamptz NOT NULL
);

-- The scheduler's jobs: a rule's periodic check or a system job. Running a job and moving its next_run_at
-- happen in one transaction, so a restart neither skips nor repeats a run.
CREATE TABLE schedules (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job           text NOT NULL,                  -- 'rule' | 'admin-checks'
    rule_id       bigint REFERENCES alert_rules ON DELETE CASCADE,
    next_run_at   timestamptz,                    -- NULL: nothing more to run (a reminder that was sent)
    last_run_at   timestamptz,
    last_error    text,
    UNIQUE NULLS NOT DISTINCT (job, rule_id)
);
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE next_run_at IS NOT NULL;

-- Conditions that fire once and re-arm when they clear (a low battery, a full disk ...).
CREATE TABLE alert_states (
    key           text PRIMARY KEY,               -- 'rule:<id>:<subject>:<problem>' or 'admin:<problem>'
    since         timestamptz NOT NULL DEFAULT now(),
    detail        text NOT NULL
);

-- Finished photos wait here to be matched against the detection rules (in the finisher's transaction);
-- backfilled photos never alert.
ALTER TABLE images ADD COLUMN alert_pending boolean NOT NULL DEFAULT false;
CREATE INDEX images_alert_pending ON images (id) WHERE alert_pending;

-- The notifier wakes when a photo is done, as the stages do for theirs.
DROP TRIGGER images_work_notify ON images;
CREATE TRIGGER images_work_notify AFTER INSERT OR UPDATE OF stage ON images
    FOR EACH ROW WHEN (NEW.stage IN ('stored', 'detected', 'classified', 'done'))
    EXECUTE FUNCTION notify_work();
