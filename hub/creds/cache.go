package creds

import (
	"context"
	"sync"
	"time"
)

// Cached keeps answers for TTL (NotFoundTTL for names nothing defines).
// Entries are keyed by the whole scope's team and pipeline, so one team's
// answer never serves another.
type Cached struct {
	Source      Source
	TTL         time.Duration
	NotFoundTTL time.Duration

	mu      sync.Mutex
	entries map[cacheKey]cacheEntry
	swept   time.Time
}

type cacheKey struct{ team, pipeline, name string }

type cacheEntry struct {
	value   any
	found   bool
	expires time.Time
}

var _ Source = (*Cached)(nil)

func (c *Cached) Get(ctx context.Context, s Scope, name string) (any, bool, error) {
	key := cacheKey{s.Team, s.Pipeline, name}
	now := time.Now()
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.value, e.found, nil
	}
	v, found, err := c.Source.Get(ctx, s, name)
	if err != nil {
		return v, found, err
	}
	ttl := c.TTL
	if !found {
		ttl = c.NotFoundTTL
	}
	if ttl <= 0 {
		return v, found, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[cacheKey]cacheEntry{}
	}
	if now.Sub(c.swept) > c.TTL {
		for k, e := range c.entries {
			if now.After(e.expires) {
				delete(c.entries, k)
			}
		}
		c.swept = now
	}
	c.entries[key] = cacheEntry{value: v, found: found, expires: now.Add(ttl)}
	return v, found, nil
}
