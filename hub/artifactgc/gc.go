package artifactgc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/switchyard-ci/switchyard/hub/store"
	"github.com/switchyard-ci/switchyard/volumes"
	"gocloud.dev/blob"
)

// Options tune the GC; zero values take the defaults.
type Options struct {
	Retention time.Duration // how long a finished build's artifacts are kept (default 24h)
	Grace     time.Duration // how old an unreferenced object must be to go (default 1h)
	Every     time.Duration // how often Run collects (default 10m)
}

// Grace must exceed the hub's DedupFresh (gateway.DedupFresh, 30 minutes): a
// step told that an object is stored records it within that time.
const defaultGrace = time.Hour

// GC collects garbage in one artifact store.
type GC struct {
	st   *store.Store
	b    *volumes.Bucket
	opts Options
	log  *slog.Logger
}

func New(st *store.Store, b *volumes.Bucket, opts Options, log *slog.Logger) *GC {
	if opts.Retention == 0 {
		opts.Retention = 24 * time.Hour
	}
	if opts.Grace == 0 {
		opts.Grace = defaultGrace
	}
	if opts.Every == 0 {
		opts.Every = 10 * time.Minute
	}
	return &GC{st: st, b: b, opts: opts, log: log}
}

// Run collects now and then until ctx ends.
func (g *GC) Run(ctx context.Context) error {
	t := time.NewTicker(g.opts.Every)
	defer t.Stop()
	for {
		if stats, err := g.Collect(ctx, time.Now()); err != nil && ctx.Err() == nil {
			g.log.Warn("artifact gc", slog.String("error", err.Error()))
		} else if stats.Deleted > 0 || stats.Expired > 0 {
			g.log.Info("artifact gc", slog.Int64("expired", stats.Expired), slog.Int("deleted", stats.Deleted), slog.Int64("bytes", stats.Bytes))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Stats says what one collection did.
type Stats struct {
	Expired int64 // artifact records of builds past retention
	Deleted int   // objects deleted
	Bytes   int64 // their size
	Kept    int   // objects still referenced or too young
}

// Collect runs one collection as of now.
func (g *GC) Collect(ctx context.Context, now time.Time) (Stats, error) {
	var stats Stats
	var err error
	if stats.Expired, err = g.st.ExpireArtifacts(ctx, now.Add(-g.opts.Retention)); err != nil {
		return stats, err
	}
	for _, prefix := range []string{volumes.ArtifactsPrefix, volumes.UploadsPrefix} {
		it := g.b.List(&blob.ListOptions{Prefix: prefix})
		for {
			obj, err := it.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return stats, fmt.Errorf("list %s: %w", prefix, err)
			}
			if obj.IsDir || now.Sub(obj.ModTime) < g.opts.Grace {
				stats.Kept++
				continue
			}
			if strings.HasPrefix(obj.Key, volumes.ArtifactsPrefix) {
				team, d, err := volumes.ParseKey(obj.Key)
				if err != nil {
					stats.Kept++ // not ours to delete
					continue
				}
				used, err := g.st.ArtifactReferenced(ctx, team, string(d))
				if err != nil {
					return stats, err
				}
				if used {
					stats.Kept++
					continue
				}
			}
			// An upload may have renewed it since the listing.
			if attrs, err := g.b.Attributes(ctx, obj.Key); err != nil || now.Sub(attrs.ModTime) < g.opts.Grace {
				stats.Kept++
				continue
			}
			if err := g.b.Delete(ctx, obj.Key); err != nil {
				return stats, fmt.Errorf("delete %s: %w", obj.Key, err)
			}
			stats.Deleted++
			stats.Bytes += obj.Size
		}
	}
	return stats, nil
}
