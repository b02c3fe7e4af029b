-- As in Concourse, a pipeline's group (its name in its team) is placed by its
-- first pipeline's id until fly order-pipelines places it.
UPDATE pipelines p SET ordering = (SELECT min(q.id) FROM pipelines q WHERE q.team_id = p.team_id AND q.name = p.name)
    WHERE ordering = 0;
