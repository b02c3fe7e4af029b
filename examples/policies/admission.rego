# An admission policy: privileged tasks are refused, except in team ops;
# images from outside registry.example.com are refused (a warning only when
# the policy is set with fly set-policy --warn-only).
package switchyard.admission

default allowed := true

allowed := false if count(reasons) > 0

reasons contains sprintf("task %s of job %s is privileged, which only team ops may run", [input.data.step, input.data.job]) if {
	input.action == "use_privileged"
	input.team != "ops"
}

reasons contains sprintf("task %s of job %s uses image %s, from outside registry.example.com", [input.data.step, input.data.job, input.data.image]) if {
	input.action == "use_image"
	not startswith(input.data.image, "registry.example.com/")
}
