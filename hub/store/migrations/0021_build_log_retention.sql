-- build_log_retention: a job's own values (0: unset) are kept beside its
-- config, which rests sealed, so the reaper reads them with SQL. A reaped
-- build keeps its row and loses its events. An archived pipeline knows when
-- it was archived, so its data can go after a retention.
ALTER TABLE jobs ADD COLUMN retain_builds INT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN retain_days INT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN retain_min_succeeded INT NOT NULL DEFAULT 0;
ALTER TABLE builds ADD COLUMN reap_time TIMESTAMPTZ;
CREATE INDEX builds_job_unreaped ON builds (job_id, id DESC) WHERE reap_time IS NULL;
ALTER TABLE pipelines ADD COLUMN archived_at TIMESTAMPTZ;
UPDATE pipelines SET archived_at = now() WHERE archived;
