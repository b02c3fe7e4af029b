-- The builds a version went into or came out of (the resource page's
-- input_to and output_of), read by resource and version.
CREATE INDEX build_inputs_version ON build_inputs (resource_id, version_digest);
CREATE INDEX build_outputs_version ON build_outputs (resource_id, version_digest);
