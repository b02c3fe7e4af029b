package server

import (
	"fmt"
	"testing"
	"time"
)

func TestSigninLimiter(t *testing.T) {
	var l signinLimiter
	now := time.Unix(1_700_000_000, 0)
	for i := range freeFailures {
		if wait := l.failed("10.0.0.1", now); wait != 0 {
			t.Fatalf("failure %d already waits %s", i+1, wait)
		}
	}
	var waits []time.Duration
	for range 9 {
		waits = append(waits, l.failed("10.0.0.1", now))
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}
	for i, w := range want {
		if waits[i] != w*time.Second {
			t.Fatalf("waits %v, want doubling from 1s up to a minute", waits)
		}
	}
	if l.wait("10.0.0.1", now.Add(30*time.Second)) != 30*time.Second || l.wait("10.0.0.2", now) != 0 {
		t.Error("the wait is not per address")
	}
	l.succeeded("10.0.0.1")
	if l.wait("10.0.0.1", now) != 0 {
		t.Error("a success did not clear the address")
	}
	// Memory stays bounded whatever the number of addresses.
	for i := range maxAddresses * 2 {
		l.failed(fmt.Sprintf("addr-%d", i), now)
	}
	if n := len(l.addrs); n > maxAddresses {
		t.Errorf("%d addresses remembered", n)
	}
}
