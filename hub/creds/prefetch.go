package creds

import (
	"context"
	"sync"

	"github.com/switchyard-ci/switchyard/vars"
)

// prefetch looks up the distinct references in texts at once, a few at a
// time, so that a step with many secrets waits for about one round trip to
// its manager, not one per secret. The interpolation then reads the answers
// (and looks up by itself anything it did not see here).
type prefetch struct {
	r       *Resolver
	answers map[refKey]answer
}

type refKey struct{ source, path string }

type answer struct {
	value any
	found bool
	err   error
}

const prefetchers = 8

func newPrefetch(ctx context.Context, r *Resolver, texts ...string) *prefetch {
	p := &prefetch{r: r, answers: map[refKey]answer{}}
	var refs []vars.Ref
	seen := map[refKey]bool{}
	for _, t := range texts {
		for _, ref := range vars.Refs(t) {
			k := refKey{ref.Source, ref.Path}
			if !seen[k] {
				seen[k] = true
				refs = append(refs, vars.Ref{Source: ref.Source, Path: ref.Path})
			}
		}
	}
	if len(refs) < 2 {
		return p
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, prefetchers)
	for _, ref := range refs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			v, found, err := r.Get(ctx, ref)
			mu.Lock()
			p.answers[refKey{ref.Source, ref.Path}] = answer{v, found, err}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return p
}

func (p *prefetch) Get(ctx context.Context, ref vars.Ref) (any, bool, error) {
	if a, ok := p.answers[refKey{ref.Source, ref.Path}]; ok {
		return a.value, a.found, a.err
	}
	return p.r.Get(ctx, ref)
}
