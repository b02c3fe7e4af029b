package creds

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Retrying asks Source again after a network error, up to Attempts times in
// all, Interval apart, each attempt bounded by Timeout: a manager that is
// down errors the step after a bounded wait, never hangs it.
type Retrying struct {
	Source   Source
	Attempts int           // 0: 5
	Interval time.Duration // 0: 1s
	Timeout  time.Duration // 0: 10s
}

var _ Source = (*Retrying)(nil)

func (r *Retrying) Get(ctx context.Context, s Scope, name string) (any, bool, error) {
	attempts, interval, timeout := r.Attempts, r.Interval, r.Timeout
	if attempts <= 0 {
		attempts = 5
	}
	if interval <= 0 {
		interval = time.Second
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	for n := 1; ; n++ {
		actx, cancel := context.WithTimeout(ctx, timeout)
		v, found, err := r.Source.Get(actx, s, name)
		cancel()
		if err == nil || !retryable(err) || ctx.Err() != nil {
			return v, found, err
		}
		if n >= attempts {
			return nil, false, fmt.Errorf("%w (after %d retries)", err, n-1)
		}
		select {
		case <-ctx.Done():
			return nil, false, err
		case <-time.After(interval):
		}
	}
}

// retryable tells network trouble (and a server that says so) from an
// answer.
func retryable(err error) bool {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne):
		return true
	case apierrors.IsServerTimeout(err), apierrors.IsTimeout(err), apierrors.IsTooManyRequests(err),
		apierrors.IsServiceUnavailable(err), apierrors.IsInternalError(err), apierrors.IsUnexpectedServerError(err):
		return true
	}
	return false
}
