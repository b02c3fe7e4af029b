-- Scheduling: what each job gets, written when the pipeline is saved, so that
-- the scheduler and the checker never parse a pipeline config.

-- A job's gets. version is a version pinned in the get step.
CREATE TABLE job_inputs (
    job_id      BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    resource_id BIGINT NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
    trigger     BOOLEAN NOT NULL DEFAULT false,
    every       BOOLEAN NOT NULL DEFAULT false,
    version     JSONB,
    position    INT NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, name)
);
CREATE INDEX job_inputs_resource ON job_inputs (resource_id);

-- The passed constraints of each input; indexed by the upstream job, so that a
-- finished build finds the jobs it may feed.
CREATE TABLE job_input_passed (
    job_id        BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    passed_job_id BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    PRIMARY KEY (job_id, name, passed_job_id)
);
CREATE INDEX job_input_passed_upstream ON job_input_passed (passed_job_id);
CREATE INDEX job_serial_groups_group ON job_serial_groups (serial_group, job_id);

-- The job's compiled plan (versions are filled in when a build starts), its
-- limit on running builds (serial and serial_groups fold into 1), and its
-- scheduling requests: whatever may change the job's next build bumps
-- schedule_seq; the scheduler records in scheduled_seq what it has handled.
ALTER TABLE jobs ADD COLUMN plan JSONB;
ALTER TABLE jobs ADD COLUMN max_in_flight INT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN schedule_seq BIGINT NOT NULL DEFAULT 1;
ALTER TABLE jobs ADD COLUMN scheduled_seq BIGINT NOT NULL DEFAULT 0;
-- The last resolution: ok, or per input the reason it did not resolve.
ALTER TABLE jobs ADD COLUMN inputs_determined BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE jobs ADD COLUMN resolve_errors JSONB NOT NULL DEFAULT '{}';
ALTER TABLE jobs ADD COLUMN has_new_inputs BOOLEAN NOT NULL DEFAULT false;
CREATE INDEX jobs_schedule_requested ON jobs (pipeline_id, id) WHERE schedule_seq > scheduled_seq AND active;

-- The inputs the job's next build would get, from the last resolution.
CREATE TABLE next_build_inputs (
    job_id           BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    resource_id      BIGINT NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
    version_digest   TEXT NOT NULL,
    first_occurrence BOOLEAN NOT NULL DEFAULT false,
    passed_build_ids JSONB NOT NULL DEFAULT '[]',
    PRIMARY KEY (job_id, name)
);

-- A pending build runs once the scheduler has given it inputs and room under
-- max_in_flight (check and one-off builds are scheduled when created).
ALTER TABLE builds ADD COLUMN scheduled BOOLEAN NOT NULL DEFAULT false;
UPDATE builds SET scheduled = true;
CREATE INDEX builds_job_pending ON builds (job_id, id) WHERE status = 'pending';

-- Periodic checks: next_check (existing) is when the checker runs the next one.
CREATE INDEX resources_next_check ON resources (next_check) WHERE active;
