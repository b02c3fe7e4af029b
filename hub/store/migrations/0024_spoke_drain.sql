-- Spokes can be landed (drained, kept) and retired (drained, removed), as
-- Concourse workers are: fly land-worker, a spoke retiring itself.
ALTER TABLE spokes DROP CONSTRAINT IF EXISTS spokes_state_check;
ALTER TABLE spokes DROP CONSTRAINT IF EXISTS check_state;
ALTER TABLE spokes ADD CONSTRAINT spokes_state_check
    CHECK (state IN ('running', 'unknown', 'landing', 'landed', 'retiring', 'gone'));
