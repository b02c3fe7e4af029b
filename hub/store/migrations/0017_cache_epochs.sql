-- fly clear-task-cache and clear-resource-cache. A cache's key on a spoke
-- holds an epoch; clearing moves the epoch on, so the next step uses a fresh
-- cache, and the spoke deletes the old one when it next uses the key. A path
-- or version of '' stands for them all.
CREATE TABLE task_cache_epochs (
    job_id BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    step   TEXT NOT NULL,
    path   TEXT NOT NULL,
    epoch  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, step, path)
);
CREATE TABLE resource_cache_epochs (
    resource_id    BIGINT NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
    version_digest TEXT NOT NULL,
    epoch          BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (resource_id, version_digest)
);
