package resource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/minio/minio-go/v7"
)

// The semver resource's stores: an S3 object, or a file on a git branch.

// maxSemverFile bounds what is read of a stored version.
const maxSemverFile = 1 << 10

// semverS3 keeps the number in an object; writes are conditional on the
// object not having changed since it was read (If-Match, or If-None-Match
// for the first), retried a few times.
type semverS3 struct {
	client      *minio.Client
	bucket, key string
	where       string
}

func newSemverS3(s semverSource) (semverStore, error) {
	if s.Bucket == "" || s.Key == "" {
		return nil, errors.New("source: bucket and key are required with driver s3")
	}
	client, err := newS3Client(s3Source{Bucket: s.Bucket, AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey, SessionToken: s.SessionToken,
		Region: s.Region, Endpoint: s.Endpoint, DisableSSL: s.DisableSSL, SkipSSLVerification: s.SkipSSLVerification})
	if err != nil {
		return nil, err
	}
	return &semverS3{client: client, bucket: s.Bucket, key: s.Key, where: fmt.Sprintf("%s in bucket %s at %s", s.Key, s.Bucket, client.EndpointURL())}, nil
}

func (st *semverS3) readTagged(ctx context.Context) (number, etag string, err error) {
	obj, err := st.client.GetObject(ctx, st.bucket, st.key, minio.GetObjectOptions{})
	if err != nil {
		return "", "", fmt.Errorf("read %s: %v", st.where, err)
	}
	defer obj.Close()
	data, err := io.ReadAll(io.LimitReader(obj, maxSemverFile))
	if err != nil {
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return "", "", nil
		}
		return "", "", fmt.Errorf("read %s: %v", st.where, err)
	}
	info, err := obj.Stat()
	if err != nil {
		return "", "", fmt.Errorf("read %s: %v", st.where, err)
	}
	return strings.TrimSpace(string(data)), info.ETag, nil
}

func (st *semverS3) read(ctx context.Context) (string, error) {
	n, _, err := st.readTagged(ctx)
	return n, err
}

func (st *semverS3) write(ctx context.Context, next func(string) (string, error), log io.Writer) (string, error) {
	for try := 0; ; try++ {
		current, etag, err := st.readTagged(ctx)
		if err != nil {
			return "", err
		}
		n, err := next(current)
		if err != nil {
			return "", err
		}
		opts := minio.PutObjectOptions{ContentType: "text/plain"}
		if etag != "" {
			opts.SetMatchETag(etag)
		} else {
			opts.SetMatchETagExcept("*")
		}
		_, err = st.client.PutObject(ctx, st.bucket, st.key, strings.NewReader(n), int64(len(n)), opts)
		if err == nil {
			return n, nil
		}
		if code := minio.ToErrorResponse(err).Code; (code == "PreconditionFailed" || code == "ConditionalRequestConflict") && try < 4 {
			fmt.Fprintf(log, "%s changed while it was bumped: trying again\n", st.where)
			continue
		}
		return "", fmt.Errorf("write %s: %v", st.where, err)
	}
}

// semverGit keeps the number in a file on a branch: a write commits it and
// pushes, and tries again from the new tip when the push is refused.
type semverGit struct {
	src  semverSource
	git  gitSource
	file string
}

func (r Semver) newSemverGit(s semverSource) (semverStore, error) {
	if s.URI == "" || s.Branch == "" {
		return nil, errors.New("source: uri and branch are required with driver git")
	}
	file, err := semverFile(s)
	if err != nil {
		return nil, err
	}
	g := gitSource{URI: s.URI, Branch: s.Branch, PrivateKey: s.PrivateKey, PrivateKeyUser: s.PrivateKeyUser,
		PrivateKeyPassphrase: s.PrivateKeyPassphrase, GitConfig: s.GitConfig}
	if err := (Git{AllowLocal: r.AllowLocal}).checkURI(s.URI); err != nil {
		return nil, err
	}
	return &semverGit{src: s, git: g, file: file}, nil
}

// clone fetches the branch into a new directory that done removes; a
// branch that does not exist yet gives an empty repository.
func (st *semverGit) clone(ctx context.Context, c gitCLI) (dir string, done func(), err error) {
	dir, err = os.MkdirTemp("", "switchyard-semver-")
	if err != nil {
		return "", nil, err
	}
	done = func() { os.RemoveAll(dir) }
	if _, err := c.run(ctx, dir, nil, "init", "--quiet", "."); err != nil {
		done()
		return "", nil, err
	}
	if _, err := c.run(ctx, dir, nil, "fetch", "--quiet", "--depth", "1", st.src.URI, "+refs/heads/"+st.src.Branch+":refs/remotes/origin/"+st.src.Branch); err == nil {
		if _, err := git(ctx, dir, nil, "checkout", "--quiet", "-B", st.src.Branch, "origin/"+st.src.Branch); err != nil {
			done()
			return "", nil, err
		}
	} else if !strings.Contains(err.Error(), "couldn't find remote ref") {
		done()
		return "", nil, err
	} else if _, err := git(ctx, dir, nil, "checkout", "--quiet", "--orphan", st.src.Branch); err != nil {
		done()
		return "", nil, err
	}
	return dir, done, nil
}

func (st *semverGit) readIn(dir string) (string, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", err
	}
	defer root.Close()
	f, err := root.Open(st.file)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %v", st.file, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSemverFile))
	return strings.TrimSpace(string(data)), err
}

func (st *semverGit) read(ctx context.Context) (string, error) {
	c, cdone, err := st.git.cli()
	if err != nil {
		return "", err
	}
	defer cdone()
	dir, done, err := st.clone(ctx, c)
	if err != nil {
		return "", err
	}
	defer done()
	return st.readIn(dir)
}

func (st *semverGit) write(ctx context.Context, next func(string) (string, error), log io.Writer) (string, error) {
	c, cdone, err := st.git.cli()
	if err != nil {
		return "", err
	}
	defer cdone()
	user := st.src.GitUser
	if user == "" {
		user = "Concourse CI <concourse@local>"
	}
	name, email, _ := strings.Cut(strings.TrimSuffix(user, ">"), " <")
	message := st.src.CommitMessage
	if message == "" {
		message = "bump to %version%"
	}
	for try := 0; ; try++ {
		n, err := st.commit(ctx, c, next, name, email, message)
		if err == nil {
			return n, nil
		}
		if !strings.Contains(err.Error(), "rejected") && !strings.Contains(err.Error(), "failed to push") || try >= 4 {
			return "", err
		}
		fmt.Fprintf(log, "the branch moved while the version was bumped: trying again\n")
	}
}

func (st *semverGit) commit(ctx context.Context, c gitCLI, next func(string) (string, error), name, email, message string) (string, error) {
	dir, done, err := st.clone(ctx, c)
	if err != nil {
		return "", err
	}
	defer done()
	current, err := st.readIn(dir)
	if err != nil {
		return "", err
	}
	n, err := next(current)
	if err != nil {
		return "", err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", err
	}
	defer root.Close()
	if err := root.MkdirAll(filepath.Dir(st.file), 0o755); err != nil {
		return "", err
	}
	if err := root.WriteFile(st.file, []byte(n), 0o644); err != nil {
		return "", err
	}
	msg := strings.NewReplacer("%version%", n, "%file%", st.file).Replace(message)
	if _, err := git(ctx, dir, nil, "add", "--", st.file); err != nil {
		return "", err
	}
	if _, err := git(ctx, dir, nil, "-c", "user.name="+name, "-c", "user.email="+email, "commit", "--quiet", "--allow-empty", "-m", msg); err != nil {
		return "", err
	}
	out, err := c.run(ctx, dir, nil, "push", "--porcelain", st.src.URI, "HEAD:refs/heads/"+st.src.Branch)
	if err != nil {
		return "", err
	}
	// "=": the branch already held this very commit: another bump made the
	// same one in the same second (same tree, parent, author and time), so
	// this bump would be lost. Bump again from the new tip.
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "=\t") {
			return "", fmt.Errorf("push %s: rejected: the branch already holds the same bump", st.src.Branch)
		}
	}
	return n, nil
}
