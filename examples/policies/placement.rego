# A placement policy in Rego, for switchyard policy test and the tests:
# untrusted builds run only in the shared pool; draining spokes get
# no steps; spokes labelled for a step's tag (gpu=true for tag gpu) score 10.
package switchyard.placement

# The build's trust is checked before the spokes are walked: Rego evaluates
# a rule's expressions in order, so a cheap guard first saves the loop.
deny[s.name] contains "untrusted builds run only in the shared pool" if {
	input.build.trusted == false
	some s in input.spokes
	s.pool != "shared"
}

deny[s.name] contains "the spoke is draining" if {
	some s in input.spokes
	s.labels["switchyard.dev/draining"] == "true"
}

score[s.name] := 10 if {
	some s in input.spokes
	some tag in input.step.tags
	s.labels[tag] == "true"
}
