-- A job's successful build archives the pipelines the job set before and
-- no longer sets: they are found by their parent job.
CREATE INDEX pipelines_parent_job ON pipelines (parent_job_id, parent_build_id) WHERE parent_job_id IS NOT NULL;
