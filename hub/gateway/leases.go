package gateway

import (
	"context"
	"log/slog"
	"time"
)

// DefaultSpokeLease is how long a spoke may go without a heartbeat before it
// counts as stalled and its steps move to other spokes.
const DefaultSpokeLease = 30 * time.Second

// Run moves the steps of spokes that stopped answering until ctx ends: a
// spoke whose lease ran out is stalled, and each of its open steps ends as a
// lost run, which the engine runs again on a spoke placed afresh (a put only
// when it says that is safe). Every hub does this; a step's fence makes one
// of them end it. A stalled spoke that comes back is no longer given those
// steps, so it stops them and deletes what they left.
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
