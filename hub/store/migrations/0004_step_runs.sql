-- A step whose run is lost (its pod evicted, or lost with its node) runs again
-- as a new row: run 2, 3, ... of the same plan node and attempt. Each run has
-- its own id and fence, so reports from the lost run are stale.
ALTER TABLE build_steps ADD COLUMN run INT NOT NULL DEFAULT 1;
ALTER TABLE build_steps DROP CONSTRAINT build_steps_build_id_plan_id_attempt_key;
CREATE UNIQUE INDEX build_steps_key ON build_steps (build_id, plan_id, attempt, run);
