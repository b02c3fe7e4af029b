package reaper

import (
	"context"
	"log/slog"
	"time"

	"github.com/switchyard-ci/switchyard/api"
	"github.com/switchyard-ci/switchyard/hub/store"
)

// Limits are the hub's defaults and maximums for build_log_retention, as
// Concourse's --default-build-logs-to-retain, --max-build-logs-to-retain,
// --default-days-to-retain-build-logs and --max-days-to-retain-build-logs
// (0: none).
type Limits struct {
	DefaultBuilds, MaxBuilds int
	DefaultDays, MaxDays     int
}

// Effective is the retention the reaper applies to a job: its own values,
// else the defaults; a maximum wins unless the job asks for less; with a
// maximum, minimum_succeeded_builds is dropped unless it fits in builds.
func Effective(job store.Retention, l Limits) store.Retention {
	out := job
	if out.Builds == 0 {
		out.Builds = l.DefaultBuilds
	}
	if out.Days == 0 {
		out.Days = l.DefaultDays
	}
	if l.MaxBuilds > 0 && (out.Builds == 0 || out.Builds > l.MaxBuilds) {
		out.Builds = l.MaxBuilds
	}
	if l.MaxDays > 0 && (out.Days == 0 || out.Days > l.MaxDays) {
		out.Days = l.MaxDays
	}
	if l.MaxBuilds > 0 && out.MinSucceeded > out.Builds {
		out.MinSucceeded = 0
	}
	return out
}

// Reap picks the builds whose events go, from a job's unreaped builds
// newest first, as Concourse's reaper does: running builds stay; succeeded
// builds stay until MinSucceeded are kept; with Builds, builds stay until
// Builds are kept; otherwise with Days, builds that ended within Days stay;
// the rest go. If more than Builds were kept, the oldest kept ones that are
// not protected succeeded builds go until Builds remain.
func Reap(builds []store.ReapCandidate, r store.Retention, now time.Time) []int64 {
	if r.Builds == 0 && r.Days == 0 {
		return nil
	}
	type kept struct {
		id        int64
		protected bool
	}
	var keep []kept
	var reap []int64
	succeeded := 0
	for _, b := range builds {
		switch {
		case b.Status == api.BuildPending || b.Status == api.BuildStarted:
			continue // neither kept nor counted: it is still running
		case b.Status == api.BuildSucceeded && succeeded < r.MinSucceeded:
			succeeded++
			keep = append(keep, kept{b.ID, true})
		case r.Builds > 0 && len(keep) < r.Builds:
			keep = append(keep, kept{b.ID, false})
		case r.Builds == 0 && r.Days > 0 && (b.EndTime == nil || now.Sub(*b.EndTime) < time.Duration(r.Days)*24*time.Hour):
			keep = append(keep, kept{b.ID, false})
		default:
			reap = append(reap, b.ID)
		}
	}
	for i := len(keep) - 1; r.Builds > 0 && len(keep) > r.Builds && i >= 0; i-- {
		if !keep[i].protected {
			reap = append(reap, keep[i].id)
			keep = append(keep[:i], keep[i+1:]...)
		}
	}
	return reap
}

// Options tune a Reaper; zero values take the defaults.
type Options struct {
	Limits            Limits
	ArchivedRetention time.Duration // archived pipelines go after this (0: never)
	Every             time.Duration // default 30s, as Concourse's
	Window            int           // unreaped builds read per job and pass, default 10,000
	Batch             int           // builds reaped per transaction, default 100
}

// Reaper deletes old builds' events and old archived pipelines.
type Reaper struct {
	st   *store.Store
	opts Options
	log  *slog.Logger
}

func New(st *store.Store, opts Options, log *slog.Logger) *Reaper {
	if opts.Every <= 0 {
		opts.Every = 30 * time.Second
	}
	if opts.Window <= 0 {
		opts.Window = 10_000
	}
	if opts.Batch <= 0 {
		opts.Batch = 100
	}
	return &Reaper{st: st, opts: opts, log: log}
}

// Run reaps now and then until ctx ends.
func (r *Reaper) Run(ctx context.Context) error {
	t := time.NewTicker(r.opts.Every)
	defer t.Stop()
	for {
		if err := r.Pass(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("reap", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Pass reaps once: every job's old builds, then old archived pipelines.
func (r *Reaper) Pass(ctx context.Context) error {
	jobs, err := r.st.ReapableJobs(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, j := range jobs {
		ret := Effective(j.Retention, r.opts.Limits)
		if ret.Builds == 0 && ret.Days == 0 {
			continue
		}
		builds, err := r.st.UnreapedBuilds(ctx, j.ID, r.opts.Window)
		if err != nil {
			return err
		}
		ids := Reap(builds, ret, now)
		for len(ids) > 0 {
			n := min(len(ids), r.opts.Batch)
			events, err := r.st.ReapBuilds(ctx, ids[:n])
			if err != nil {
				return err
			}
			r.log.Debug("reaped builds", slog.Int64("job", j.ID), slog.Int("builds", n), slog.Int64("events", events))
			ids = ids[n:]
		}
	}
	if r.opts.ArchivedRetention > 0 {
		for {
			n, err := r.st.DestroyArchivedPipelines(ctx, now.Add(-r.opts.ArchivedRetention), r.opts.Batch)
			if err != nil || n < int64(r.opts.Batch) {
				return err
			}
		}
	}
	return nil
}
