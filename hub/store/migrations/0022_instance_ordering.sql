-- fly order-instanced-pipelines orders the instances of a group among
-- themselves; a new instance is placed last in its group.
ALTER TABLE pipelines ADD COLUMN secondary_ordering BIGINT NOT NULL DEFAULT 0;
UPDATE pipelines p SET secondary_ordering = (SELECT count(*) FROM pipelines q
    WHERE q.team_id = p.team_id AND q.name = p.name AND q.id <= p.id);
