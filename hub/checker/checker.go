package checker

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/metrics"
	"github.com/switchyard-ci/switchyard/pipeline"
)

// DefaultInterval is how often a resource without check_every is checked.
const DefaultInterval = time.Minute

// Checker creates periodic check builds. Create it with New and call Run.
type Checker struct {
	store   *store.Store
	log     *slog.Logger
	started func(buildID int64)
	gap     time.Duration // between two checks started by this hub: the rate limit
	jitter  float64
}

// Options tune a Checker; zero values take the defaults.
type Options struct {
	PerSecond float64             // checks this hub starts per second at most, default 20
	Jitter    float64             // a check comes up to this fraction of its interval late, default 0.1
	Started   func(buildID int64) // called for every check build created (the engine's Wake)
}

func New(st *store.Store, log *slog.Logger, o Options) *Checker {
	if o.PerSecond <= 0 {
		o.PerSecond = 20
	}
	if o.Jitter <= 0 {
		o.Jitter = 0.1
	}
	if o.Started == nil {
		o.Started = func(int64) {}
	}
	return &Checker{store: st, log: log, started: o.Started, gap: time.Duration(float64(time.Second) / o.PerSecond), jitter: o.Jitter}
}

// Run starts due checks until ctx ends.
func (c *Checker) Run(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if err := c.Tick(ctx); err != nil && ctx.Err() == nil {
			c.log.Error("check resources", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick starts the checks that are due now, no faster than the rate limit. A
// resource whose check_every cannot be parsed is checked at the default
// interval (set-pipeline validates it, so this is only for old configs).
func (c *Checker) Tick(ctx context.Context) error {
	due, err := c.store.DueChecks(ctx, 500)
	if err != nil {
		return err
	}
	for i, d := range due {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(c.gap):
			}
		}
		interval := Interval(d.CheckEvery)
		next := interval + time.Duration(rand.Float64()*c.jitter*float64(interval))
		plan, err := Plan(ctx, c.store, d.Resource, nil)
		if err != nil {
			return err
		}
		b, started, err := c.store.StartPeriodicCheck(ctx, d.ID, next, plan)
		if err != nil {
			return err
		}
		if started {
			metrics.ChecksEnqueued.Inc()
			c.started(b.ID)
		}
	}
	return nil
}

// Interval is a check_every value as a duration: the default for "" or a
// value that does not parse.
func Interval(checkEvery string) time.Duration {
	d, err := time.ParseDuration(checkEvery)
	if err != nil || d <= 0 {
		return DefaultInterval
	}
	return d
}

// Plan is the plan of a check build of res: it runs in the image of the
// resource's type when its pipeline has a custom type of that name.
func Plan(ctx context.Context, st *store.Store, res store.Resource, from map[string]string) (json.RawMessage, error) {
	var cfg struct {
		Source map[string]any `json:"source"`
	}
	if err := json.Unmarshal(res.Config, &cfg); err != nil {
		return nil, fmt.Errorf("resource %s: unreadable stored config: %w", res.Name, err)
	}
	types, err := pipelineTypes(ctx, st, res.PipelineID)
	if err != nil {
		return nil, err
	}
	return json.Marshal(pipeline.Plan{ID: "1", Check: &pipeline.CheckPlan{
		Name: res.Name, Type: res.Type, Source: cfg.Source, Image: pipeline.TypeImageOf("1", res.Type, types),
		FromVersion: from, Resource: res.Name,
	}})
}

// TypePlan is the plan of a check build of a pipeline's custom type (fly
// check-resource-type): it runs in the image of the type's own type.
func TypePlan(ctx context.Context, st *store.Store, pipelineID int64, typeName string, from map[string]string) (json.RawMessage, error) {
	types, err := pipelineTypes(ctx, st, pipelineID)
	if err != nil {
		return nil, err
	}
	for _, t := range types {
		if t.Name == typeName {
			return json.Marshal(pipeline.Plan{ID: "1", Check: &pipeline.CheckPlan{
				Name: t.Name, Type: t.Type, Source: t.Source, Image: pipeline.TypeImageOf("1", t.Type, types),
				FromVersion: from, ResourceType: t.Name, Tags: t.Tags,
			}})
		}
	}
	return nil, fmt.Errorf("resource type %s: %w", typeName, store.ErrNotFound)
}

func pipelineTypes(ctx context.Context, st *store.Store, pipelineID int64) ([]pipeline.ResourceType, error) {
	raw, err := st.ResourceTypeConfigs(ctx, pipelineID)
	if err != nil {
		return nil, err
	}
	types := make([]pipeline.ResourceType, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal(r, &types[i]); err != nil {
			return nil, fmt.Errorf("resource type of pipeline %d: unreadable stored config: %w", pipelineID, err)
		}
	}
	return types, nil
}
