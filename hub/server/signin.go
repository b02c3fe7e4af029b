package server

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// signinLimiter slows down repeated failed password grants from one
// address: after freeFailures, each further attempt must wait twice as long
// as the last (up to maxWait) before it is even checked. It remembers at
// most maxAddresses addresses; past that it forgets those idle longest.
// Behind a proxy every client shares the proxy's address.
type signinLimiter struct {
	mu    sync.Mutex
	addrs map[string]*signinAttempts
}

type signinAttempts struct {
	failures int
	until    time.Time // no attempt is checked before this
	last     time.Time
}

const (
	freeFailures = 10 // fly posts a wrong password twice (Basic, then in the form): five tries
	maxWait      = time.Minute
	maxAddresses = 10_000
)

// address is the client's IP.
func address(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// wait says how long addr must still wait before its next attempt counts.
func (l *signinLimiter) wait(addr string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	a, ok := l.addrs[addr]
	if !ok || !now.Before(a.until) {
		return 0
	}
	return a.until.Sub(now)
}

// failed records a failed attempt and returns how long the address must now
// wait (0 while it has failures left).
func (l *signinLimiter) failed(addr string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.addrs == nil {
		l.addrs = map[string]*signinAttempts{}
	}
	a, ok := l.addrs[addr]
	if !ok {
		if len(l.addrs) >= maxAddresses {
			l.sweep(now)
		}
		a = &signinAttempts{}
		l.addrs[addr] = a
	}
	if now.Sub(a.last) > 10*maxWait { // quiet for a while: start over
		a.failures = 0
	}
	a.failures++
	a.last = now
	if a.failures <= freeFailures {
		return 0
	}
	wait := time.Second << min(a.failures-freeFailures-1, 6)
	wait = min(wait, maxWait)
	a.until = now.Add(wait)
	return wait
}

// succeeded forgets an address's failures.
func (l *signinLimiter) succeeded(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.addrs, addr)
}

// sweep forgets idle addresses, or all of them if none is idle.
func (l *signinLimiter) sweep(now time.Time) {
	for addr, a := range l.addrs {
		if now.Sub(a.last) > 10*maxWait {
			delete(l.addrs, addr)
		}
	}
	if len(l.addrs) >= maxAddresses {
		l.addrs = map[string]*signinAttempts{}
	}
}
