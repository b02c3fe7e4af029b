package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/switchyard-ci/switchyard/hub/store"
)

// DefaultSpokeLease is how long a spoke may go without a heartbeat before it
// counts as stalled and its steps move to other spokes.
const DefaultSpokeLease = 30 * time.Second

// Run looks after the fleet until ctx ends: landing spokes whose steps are
// done are landed, retiring ones removed, and the steps of spokes that
// stopped answering move. A spoke whose lease ran out is stalled, and each
// of its open steps ends as a lost run, which the engine runs again on a
// spoke placed afresh (a put only when it says that is safe). Every hub does
// this; a step's fence makes one of them end it. A stalled spoke that comes
// back is no longer given those steps, so it stops them and deletes what
// they left.
func (g *Gateway) Run(ctx context.Context) error {
	every := min(max(g.cfg.SpokeLease/6, 500*time.Millisecond), 5*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if removed, err := g.store.SettleDrains(ctx); err != nil {
			if ctx.Err() == nil {
				g.log.Warn("settle drained spokes", slog.String("error", err.Error()))
			}
		} else {
			for _, name := range removed {
				g.log.Info("spoke retired: removed", slog.String("spoke", name))
			}
		}
		quiet, err := g.store.QuietSpokes(ctx)
		if err != nil {
			if ctx.Err() == nil {
				g.log.Warn("look for spokes that stopped answering", slog.String("error", err.Error()))
			}
			continue
		}
		for _, sp := range quiet {
			g.log.Warn("spoke stopped answering: moving its steps", slog.String("spoke", sp.Name), slog.Time("last_seen", sp.LastSeen))
			g.loseSteps(ctx, sp.ID, sp.Name, "spoke "+sp.Name+" stopped answering at "+sp.LastSeen.UTC().Format(time.RFC3339))
		}
	}
}

// spokeRetire is a spoke retiring itself (on SIGTERM, with the spoke's
// --retire-on-sigterm): it takes no new steps, and Run removes it once its
// open steps are done; its next call then finds its credential void.
func (g *Gateway) spokeRetire(w http.ResponseWriter, r *http.Request, sp *store.Spoke) error {
	if err := g.store.RetireSpoke(r.Context(), sp.ID); err != nil {
		return err
	}
	g.log.Info("spoke retiring", slog.String("spoke", sp.Name))
	w.WriteHeader(http.StatusNoContent)
	return nil
}
