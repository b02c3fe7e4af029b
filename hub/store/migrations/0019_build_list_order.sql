-- Builds are listed as Concourse lists them: a rerun next to the build it
-- reruns (COALESCE(rerun_of, id) DESC, id DESC), check builds left out.
CREATE INDEX builds_list_order ON builds ((COALESCE(rerun_of, id)) DESC, id DESC)
    WHERE resource_id IS NULL AND resource_type_id IS NULL;
CREATE INDEX builds_job_list_order ON builds (job_id, (COALESCE(rerun_of, id)) DESC, id DESC);
