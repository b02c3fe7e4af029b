// Package s3test gives tests a fresh bucket on the MinIO that
// hack/with-minio.sh started, and a minio-go client to look into it.
package s3test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Environment set by hack/with-minio.sh.
const (
	EnvEndpoint  = "SWITCHYARD_TEST_S3_ENDPOINT"
	EnvAccessKey = "SWITCHYARD_TEST_S3_ACCESS_KEY"
	EnvSecretKey = "SWITCHYARD_TEST_S3_SECRET_KEY"
)

// Bucket is a bucket of its own for one test.
type Bucket struct {
	Name   string
	URL    string   // the gocloud.dev URL of the bucket
	Env    []string // AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for processes that open URL
	Client *minio.Client
}

// New creates a bucket named after the test.
func New(t testing.TB) Bucket {
	t.Helper()
	endpoint := os.Getenv(EnvEndpoint)
	if endpoint == "" {
		t.Fatalf("%s is not set: run the tests with `make test` or under hack/with-minio.sh", EnvEndpoint)
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	access, secret := os.Getenv(EnvAccessKey), os.Getenv(EnvSecretKey)
	client, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4(access, secret, ""), Secure: u.Scheme == "https"})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(t.Name()))
	name := "test-" + hex.EncodeToString(sum[:8]) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := client.MakeBucket(context.Background(), name, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	q := url.Values{"endpoint": {endpoint}, "region": {"us-east-1"}, "use_path_style": {"true"}, "disable_https": {"true"}}
	return Bucket{
		Name:   name,
		URL:    "s3://" + name + "?" + q.Encode(),
		Env:    []string{"AWS_ACCESS_KEY_ID=" + access, "AWS_SECRET_ACCESS_KEY=" + secret},
		Client: client,
	}
}

// SetEnv puts the bucket's credentials in this process's environment, for
// code under test that opens URL here.
func (b Bucket) SetEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", b.Env[0][len("AWS_ACCESS_KEY_ID="):])
	t.Setenv("AWS_SECRET_ACCESS_KEY", b.Env[1][len("AWS_SECRET_ACCESS_KEY="):])
}
