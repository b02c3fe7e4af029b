-- Each build's trace: the W3C traceparent of the build's span, made when the
-- build is created (a new trace, or a child of the traceparent its trigger
-- request carried, whose span id is trace_parent). The span is exported when
-- the build ends, by whichever hub ends it, so a hub that restarts mid-build
-- continues the same trace. Made here even when tracing is off: it costs a
-- few bytes and no statement.
ALTER TABLE builds ADD COLUMN trace_span TEXT NOT NULL DEFAULT
    ('00-' || replace(gen_random_uuid()::TEXT, '-', '') || '-' || left(replace(gen_random_uuid()::TEXT, '-', ''), 16) || '-01');
ALTER TABLE builds ADD COLUMN trace_parent TEXT NOT NULL DEFAULT '';
