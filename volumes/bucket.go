package volumes

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file:// buckets, the embedded default
	_ "gocloud.dev/blob/s3blob"   // s3:// buckets: MinIO and AWS
	"gocloud.dev/gcerrors"
)

// Bucket is the object storage artifacts live in, opened from a gocloud.dev
// URL: file:///dir (the default), or s3://bucket?endpoint=…&use_path_style=true
// with credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
type Bucket struct {
	*blob.Bucket
}

// OpenBucket opens the bucket at rawURL; a file:// bucket's directory is
// created.
func OpenBucket(ctx context.Context, rawURL string) (*Bucket, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("artifact store %q: %w", rawURL, err)
	}
	if u.Scheme == "s3" {
		// Checksums only where S3 requires them: MinIO and other stores
		// answer without the ones the SDK would check by default.
		q := u.Query()
		for _, k := range []string{"request_checksum_calculation", "response_checksum_validation"} {
			if !q.Has(k) {
				q.Set(k, "when_required")
			}
		}
		u.RawQuery = q.Encode()
		rawURL = u.String()
	}
	if u.Scheme == "file" {
		if err := os.MkdirAll(u.Path, 0o755); err != nil {
			return nil, fmt.Errorf("artifact store %q: %w", rawURL, err)
		}
	}
	b, err := blob.OpenBucket(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("artifact store %q: %w (use file:///dir or s3://bucket?endpoint=URL&use_path_style=true)", redact(rawURL), err)
	}
	return &Bucket{Bucket: b}, nil
}

// Where keys live in the bucket.
const (
	ArtifactsPrefix = "artifacts/"
	UploadsPrefix   = "uploads/" // objects being written by the hub before they have a digest
)

// Key is where the artifact d of a team lives: artifacts are shared within a
// team (the same bytes are stored once) and never across teams.
func Key(teamID int64, d Digest) string {
	return fmt.Sprintf("%steam-%d/sha256/%s", ArtifactsPrefix, teamID, d.Hex())
}

// ParseKey is Key's inverse.
func ParseKey(key string) (teamID int64, d Digest, err error) {
	var hexPart string
	if _, err := fmt.Sscanf(strings.Replace(strings.TrimPrefix(key, ArtifactsPrefix), "/sha256/", " ", 1), "team-%d %s", &teamID, &hexPart); err != nil {
		return 0, "", fmt.Errorf("%q is not an artifact key", key)
	}
	d, err = ParseDigest(digestPrefix + hexPart)
	return teamID, d, err
}

// ErrNoSignedURLs says the bucket cannot sign URLs (file://): the hub serves
// its artifacts itself, under URLs it signs.
var ErrNoSignedURLs = errors.New("the artifact store cannot sign URLs")

// SignedURL returns a URL that lets its bearer GET or PUT key until expiry.
func (b *Bucket) SignedURL(ctx context.Context, key, method string, expiry time.Duration) (string, error) {
	opts := &blob.SignedURLOptions{Method: method, Expiry: expiry}
	u, err := b.Bucket.SignedURL(ctx, key, opts)
	if gcerrors.Code(err) == gcerrors.Unimplemented {
		return "", ErrNoSignedURLs
	}
	return u, err
}
