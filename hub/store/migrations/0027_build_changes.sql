-- When a build last changed (created, started or finished), for the web
-- UI's updates: a page asks which jobs' builds changed since it looked.
CREATE INDEX builds_changed ON builds ((GREATEST(create_time, start_time, end_time))) WHERE job_id IS NOT NULL;
