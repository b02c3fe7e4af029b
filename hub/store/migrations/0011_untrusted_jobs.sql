-- Builds of an untrusted job (one that builds forks' pull requests in a
-- pipeline that also builds the trunk, say) are placed with build.trusted =
-- false, as are those of an untrusted pipeline. The mark survives set-pipeline.
ALTER TABLE jobs ADD COLUMN untrusted BOOLEAN NOT NULL DEFAULT false;
