-- A succeeded build's output set keeps every version of a resource, in order
-- (outputs, then inputs), not only the first: the algorithm reads the first
-- one that is enabled when it asks, so that disabling a build's output of a
-- resource passes on the version the build took as an input, as Concourse
-- does, and enabling it again takes that back.
ALTER TABLE successful_build_outputs ADD COLUMN position INT NOT NULL DEFAULT 0;
ALTER TABLE successful_build_outputs DROP CONSTRAINT successful_build_outputs_pkey;
ALTER TABLE successful_build_outputs ADD PRIMARY KEY (build_id, resource_id, version_digest);

-- The versions after the first, for the builds recorded before: outputs by
-- position, then inputs by name, as FinishBuild adds them.
INSERT INTO successful_build_outputs (build_id, job_id, build_order, resource_id, version_digest, position)
SELECT s.build_id, s.job_id, s.build_order, c.resource_id, c.version_digest, min(c.k)
FROM (SELECT DISTINCT build_id, job_id, build_order FROM successful_build_outputs) s
JOIN (
	SELECT build_id, resource_id, version_digest, 1 + position AS k FROM build_outputs
	UNION ALL
	SELECT build_id, resource_id, version_digest, 1000000 + row_number() OVER (PARTITION BY build_id ORDER BY name) FROM build_inputs
) c ON c.build_id = s.build_id
GROUP BY s.build_id, s.job_id, s.build_order, c.resource_id, c.version_digest
ON CONFLICT DO NOTHING;
