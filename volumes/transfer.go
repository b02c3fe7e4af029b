package volumes

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// HTTPSource reads an artifact from a URL (a presigned object storage URL or
// the hub's), asking for the rest of it with a Range header when a download
// resumes.
func HTTPSource(client *http.Client, url string) Source {
	return func(ctx context.Context, offset int64) (io.ReadCloser, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		if offset > 0 {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		want := http.StatusOK
		if offset > 0 {
			want = http.StatusPartialContent
		}
		if resp.StatusCode != want {
			defer resp.Body.Close()
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			return nil, fmt.Errorf("GET %s: %s: %s", redact(url), resp.Status, strings.TrimSpace(string(msg)))
		}
		return resp.Body, nil
	}
}

// uploadAttempts is how many times Upload sends an artifact before it gives up.
const uploadAttempts = 4

// Upload sends the artifact h to url with PUT, streaming it from the cache,
// and sends it again from the start when the connection breaks.
func Upload(ctx context.Context, client *http.Client, url string, h *Handle) error {
	var err error
	for attempt := 0; attempt < uploadAttempts; attempt++ {
		if attempt > 0 && !sleep(ctx, time.Duration(attempt)*300*time.Millisecond) {
			break
		}
		if err = put(ctx, client, url, h); err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("upload artifact %s: %w", h.Digest, err)
	}
	return nil
}

func put(ctx context.Context, client *http.Client, url string, h *Handle) error {
	f, err := os.Open(h.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, f)
	if err != nil {
		return err
	}
	req.ContentLength = h.Size
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("PUT %s: %s: %s", redact(url), resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// redact drops a URL's query, which holds its signature.
func redact(url string) string {
	base, _, _ := strings.Cut(url, "?")
	return base
}
