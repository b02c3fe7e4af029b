-- A team's fleet quota (fly set-team-quota): the most open steps, CPU and
-- memory its builds may hold across every spoke at once; '{}' for none.
ALTER TABLE teams ADD COLUMN fleet_quota JSONB NOT NULL DEFAULT '{}';
