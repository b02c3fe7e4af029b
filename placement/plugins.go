package placement

import (
	"fmt"
	"slices"
	"strings"
)

// filter is a built-in filter: a reason when the spoke may not run the step.
type filter struct {
	name  string
	check func(in *Input, sp *Spoke) string
}

var filters = []filter{
	{"health", func(_ *Input, sp *Spoke) string {
		if sp.Health != "healthy" {
			return fmt.Sprintf("the spoke is %s (its lease lapsed): no new steps until it renews", orUnknown(sp.Health))
		}
		return ""
	}},
	{"team", func(in *Input, sp *Spoke) string {
		if sp.Team != "" && sp.Team != in.Build.Team {
			return fmt.Sprintf("the spoke belongs to team %s, the build to team %s", sp.Team, in.Build.Team)
		}
		return ""
	}},
	{"tags", func(in *Input, sp *Spoke) string {
		var missing []string
		for _, t := range in.Step.Tags {
			if !slices.Contains(sp.Tags, t) {
				missing = append(missing, t)
			}
		}
		switch {
		case len(missing) > 0:
			return "the spoke lacks the step's tags " + strings.Join(missing, ", ")
		case len(in.Step.Tags) == 0 && len(sp.Tags) > 0:
			return "the spoke is tagged (" + strings.Join(sp.Tags, ", ") + ") and runs tagged steps only"
		}
		return ""
	}},
	{"capacity", func(in *Input, sp *Spoke) string {
		c, l, r := sp.Capacity, sp.Load, in.Step.Resources
		switch {
		case c.Steps > 0 && l.Steps >= c.Steps:
			return fmt.Sprintf("the spoke is full (%d of %d steps)", l.Steps, c.Steps)
		case c.Memory > 0 && r.Memory > c.Memory-l.Memory:
			return fmt.Sprintf("the step asks for %d bytes of memory, the spoke has %d free", r.Memory, c.Memory-l.Memory)
		case c.CPU > 0 && r.CPU > c.CPU-l.CPU:
			return fmt.Sprintf("the step asks for %g CPUs, the spoke has %g free", r.CPU, c.CPU-l.CPU)
		}
		return ""
	}},
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// locality scores the share of the step's input bytes the spoke holds.
func locality(held map[string]int64, total int64, sp *Spoke) float64 {
	if total == 0 {
		return 0
	}
	return localityWeight * float64(held[sp.Name]) / float64(total)
}

// heldBytes sums the bytes of the step's inputs, and those each spoke holds.
func heldBytes(in *Input) (held map[string]int64, total int64) {
	held = map[string]int64{}
	for _, a := range in.Artifacts {
		total += a.Size
		for _, name := range slices.Compact(slices.Sorted(slices.Values(a.Spokes))) {
			held[name] += a.Size
		}
	}
	return held, total
}

// spread scores the share of the spoke's step capacity that is free (a spoke
// without a declared capacity counts ten steps).
func spread(sp *Spoke) float64 {
	capacity := sp.Capacity.Steps
	if capacity <= 0 {
		capacity = 10
	}
	free := float64(capacity-sp.Load.Steps) / float64(capacity)
	return spreadWeight * max(free, 0)
}
