-- As in Concourse, a resource whose type or source changes starts its version
-- history again: its row is retired (kept, with its versions, for the builds
-- that used them) and a new row takes its name.
ALTER TABLE resources ADD COLUMN retired BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE resources DROP CONSTRAINT resources_pipeline_id_name_key;
CREATE UNIQUE INDEX resources_pipeline_name ON resources (pipeline_id, name) WHERE NOT retired;
