package volumes_test

import (
	"context"
	"errors"
	"io"

	"github.com/switchyard-ci/switchyard/volumes"
)

type readCloser = io.ReadCloser

func wrap(f func(context.Context, int64) (io.ReadCloser, error)) volumes.Source { return f }

// cutAfter breaks a stream after n bytes, as a dropped connection would.
type cutAfter struct {
	rc io.ReadCloser
	n  int
}

func (c *cutAfter) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, errors.New("connection reset by peer")
	}
	if len(p) > c.n {
		p = p[:c.n]
	}
	n, err := c.rc.Read(p)
	c.n -= n
	return n, err
}

func (c *cutAfter) Close() error { return c.rc.Close() }
