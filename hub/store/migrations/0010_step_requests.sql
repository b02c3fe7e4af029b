-- What each step asks of its spoke (a task's container_limits), so that a
-- spoke's load counts the CPUs and memory its open steps take, not only
-- their number.
ALTER TABLE build_steps ADD COLUMN cpu DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE build_steps ADD COLUMN memory BIGINT NOT NULL DEFAULT 0;
