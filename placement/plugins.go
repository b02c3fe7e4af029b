package placement

import (
	"fmt"
	"slices"
	"strings"
)

// Verdict is what a filter says of a spoke: it fits, or it does not, and
// why. A filter has no error: what it reads is in the input.
type Verdict struct {
	Fits   bool
	Reason string // why the spoke does not fit
}

// Fits is the verdict of a spoke that may run the step.
var Fits = Verdict{Fits: true}

// DoesNotFit is the verdict of a spoke that may not run the step, because
// of reason.
func DoesNotFit(format string, args ...any) Verdict {
	return Verdict{Reason: fmt.Sprintf(format, args...)}
}

// Filter is a built-in filter plugin.
type Filter interface {
	Name() string
	Filter(in *Input, sp *Spoke) Verdict
}

// Scorer is a built-in score plugin, made for one decision by its
// scorer's constructor (scorers).
type Scorer interface {
	Name() string
	Score(sp *Spoke) float64
}

var (
	_ Filter = health{}
	_ Filter = team{}
	_ Filter = tags{}
	_ Filter = capacity{}
	_ Scorer = locality{}
	_ Scorer = spread{}
)

// filters are the built-in filters, in the order their reasons are given.
var filters = []Filter{health{}, team{}, tags{}, capacity{}}

// scorers makes the built-in scorers for one step.
func scorers(in *Input) []Scorer {
	held, total := heldBytes(in)
	return []Scorer{locality{held: held, total: total}, spread{}}
}

// health filters out spokes whose lease lapsed, and those landing, landed
// or retiring.
type health struct{}

func (health) Name() string { return "health" }
func (health) Filter(_ *Input, sp *Spoke) Verdict {
	switch sp.Health {
	case "healthy":
	case "landing", "landed", "retiring":
		return DoesNotFit("the spoke is %s: it takes no new steps", sp.Health)
	default:
		return DoesNotFit("the spoke is %s (its lease lapsed): no new steps until it renews", orUnknown(sp.Health))
	}
	return Fits
}

// team filters out spokes of other teams (pool spokes have none).
type team struct{}

func (team) Name() string { return "team" }
func (team) Filter(in *Input, sp *Spoke) Verdict {
	if sp.Team != "" && sp.Team != in.Build.Team {
		return DoesNotFit("the spoke belongs to team %s, the build to team %s", sp.Team, in.Build.Team)
	}
	return Fits
}

// tags matches Concourse's worker tags: a tagged step needs all its tags,
// an untagged step avoids tagged spokes.
type tags struct{}

func (tags) Name() string { return "tags" }
func (tags) Filter(in *Input, sp *Spoke) Verdict {
	var missing []string
	for _, t := range in.Step.Tags {
		if !slices.Contains(sp.Tags, t) {
			missing = append(missing, t)
		}
	}
	switch {
	case len(missing) > 0:
		return DoesNotFit("the spoke lacks the step's tags %s", strings.Join(missing, ", "))
	case len(in.Step.Tags) == 0 && len(sp.Tags) > 0:
		return DoesNotFit("the spoke is tagged (%s) and runs tagged steps only", strings.Join(sp.Tags, ", "))
	}
	return Fits
}

// HasRoom tells whether the spoke has room for a step asking for asks, as
// placement's capacity filter judges it.
func HasRoom(sp *Spoke, asks Resources) bool {
	return capacity{}.Filter(&Input{Step: Step{Resources: asks}}, sp).Fits
}

// capacity filters out spokes without room for the step.
type capacity struct{}

func (capacity) Name() string { return "capacity" }
func (capacity) Filter(in *Input, sp *Spoke) Verdict {
	c, l, r := sp.Capacity, sp.Load, in.Step.Resources
	switch {
	case c.Steps > 0 && l.Steps >= c.Steps:
		return DoesNotFit("the spoke is full (%d of %d steps)", l.Steps, c.Steps)
	case c.Memory > 0 && r.Memory > c.Memory-l.Memory:
		return DoesNotFit("the step asks for %d bytes of memory, the spoke has %d free", r.Memory, c.Memory-l.Memory)
	case c.CPU > 0 && r.CPU > c.CPU-l.CPU:
		return DoesNotFit("the step asks for %g CPUs, the spoke has %g free", r.CPU, c.CPU-l.CPU)
	}
	return Fits
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// locality scores the share of the step's input bytes the spoke holds.
type locality struct {
	held  map[string]int64
	total int64
}

func (locality) Name() string { return "locality" }
func (l locality) Score(sp *Spoke) float64 {
	if l.total == 0 {
		return 0
	}
	return localityWeight * float64(l.held[sp.Name]) / float64(l.total)
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
type spread struct{}

func (spread) Name() string { return "spread" }
func (spread) Score(sp *Spoke) float64 {
	capacity := sp.Capacity.Steps
	if capacity <= 0 {
		capacity = 10
	}
	free := float64(capacity-sp.Load.Steps) / float64(capacity)
	return spreadWeight * max(free, 0)
}
