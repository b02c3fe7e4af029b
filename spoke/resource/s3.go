package resource

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3 is Concourse's s3 resource: files in a bucket, versioned either by a
// version in their names (regexp, whose first capture group, or the group
// named version, holds it) or by the bucket's object versions
// (versioned_file). Check, get and put follow upstream's rules.
type S3 struct{}

type s3Source struct {
	Bucket               string `json:"bucket"`
	Regexp               string `json:"regexp"`
	VersionedFile        string `json:"versioned_file"`
	AccessKeyID          string `json:"access_key_id"`
	SecretAccessKey      string `json:"secret_access_key"`
	SessionToken         string `json:"session_token"`
	Region               string `json:"region_name"`
	Endpoint             string `json:"endpoint"`
	DisableSSL           bool   `json:"disable_ssl"`
	SkipSSLVerification  bool   `json:"skip_ssl_verification"`
	Private              bool   `json:"private"`
	InitialPath          string `json:"initial_path"`
	InitialVersion       string `json:"initial_version"`
	InitialContentText   string `json:"initial_content_text"`
	InitialContentBinary string `json:"initial_content_binary"`
}

type s3Params struct {
	File         string `json:"file"`          // put: a glob, in the put's directory, matching one file
	ContentType  string `json:"content_type"`  // put
	SkipDownload bool   `json:"skip_download"` // get
}

// openS3Call opens a get's or put's source and reads its params.
func openS3Call(raw, params json.RawMessage) (*s3Bucket, s3Params, error) {
	var p s3Params
	b, err := openS3(raw)
	if err != nil {
		return nil, p, err
	}
	return b, p, decodeParams(params, &p)
}

// s3Bucket is a source opened: its client and rules.
type s3Bucket struct {
	src    s3Source
	client *minio.Client
	re     *regexp.Regexp // regexp mode
	where  string         // for errors: bucket B at ENDPOINT
}

func openS3(raw json.RawMessage) (*s3Bucket, error) {
	var src s3Source
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &src); err != nil { // unknown keys pass, as upstream
			return nil, fmt.Errorf("invalid payload: %w", err)
		}
	}
	if src.Bucket == "" {
		return nil, fmt.Errorf("source: bucket is required")
	}
	if (src.Regexp == "") == (src.VersionedFile == "") {
		return nil, fmt.Errorf("source: give regexp (versions in file names) or versioned_file (the bucket's object versions), one of them")
	}
	b := &s3Bucket{src: src}
	if src.Regexp != "" {
		re, err := regexp.Compile("^" + src.Regexp + "$")
		if err != nil {
			return nil, fmt.Errorf("source: invalid regexp %q: %v", src.Regexp, err)
		}
		if re.NumSubexp() == 0 {
			return nil, fmt.Errorf("source: regexp %q has no group to hold the version: write the version part in parentheses", src.Regexp)
		}
		b.re = re
	}
	client, err := newS3Client(src)
	if err != nil {
		return nil, err
	}
	b.client, b.where = client, fmt.Sprintf("bucket %s at %s", src.Bucket, client.EndpointURL())
	return b, nil
}

// newS3Client is a client of the source's endpoint, with its keys
// (anonymous without), bounded waits and retries, never link-local.
func newS3Client(src s3Source) (*minio.Client, error) {
	host, secure := src.Endpoint, !src.DisableSSL
	if host == "" {
		host = "s3.amazonaws.com"
	}
	if u, err := url.Parse(host); err == nil && u.Host != "" {
		host, secure = u.Host, u.Scheme == "https"
	}
	region := src.Region
	if region == "" {
		region = "us-east-1"
	}
	var creds *credentials.Credentials
	if src.AccessKeyID != "" || src.SecretAccessKey != "" {
		creds = credentials.NewStaticV4(src.AccessKeyID, src.SecretAccessKey, src.SessionToken)
	} else {
		creds = credentials.New(&credentials.Static{}) // anonymous: public buckets
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.ResponseHeaderTimeout = time.Minute // a server that accepts and never answers
	transport.DialContext = (&net.Dialer{Timeout: 30 * time.Second, Control: refuseLinkLocal}).DialContext
	if src.SkipSSLVerification {
		transport.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the source asks for it
	}
	client, err := minio.New(host, &minio.Options{Creds: creds, Secure: secure, Region: region, Transport: transport, MaxRetries: 3})
	if err != nil {
		return nil, fmt.Errorf("source: endpoint %q: %v", src.Endpoint, err)
	}
	return client, nil
}

// refuseLinkLocal keeps the spoke's process, where built-in types run, from
// the link-local addresses where clouds serve instance metadata and
// credentials.
func refuseLinkLocal(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip != nil && (ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast()) {
		return fmt.Errorf("%s is a link-local address (cloud instance metadata): refused", host)
	}
	return nil
}

// s3Version is a file of regexp mode with the version its name holds.
type s3Version struct {
	path    string
	version string
}

func (b *s3Bucket) extract(key string) (s3Version, bool) {
	m := b.re.FindStringSubmatch(key)
	if m == nil {
		return s3Version{}, false
	}
	v := m[1]
	if i := b.re.SubexpIndex("version"); i > 0 {
		v = m[i]
	}
	return s3Version{path: key, version: v}, true
}

// prefix is the regexp's literal directory part: what a listing may start at.
func (b *s3Bucket) prefix() string {
	lit, _ := regexp.MustCompile("^" + b.src.Regexp).LiteralPrefix()
	if i := strings.LastIndex(lit, "/"); i >= 0 {
		return lit[:i+1]
	}
	return ""
}

// files lists regexp mode's files, oldest version first.
func (b *s3Bucket) files(ctx context.Context) ([]s3Version, error) {
	var out []s3Version
	for obj := range b.client.ListObjects(ctx, b.src.Bucket, minio.ListObjectsOptions{Prefix: b.prefix(), Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("list %s: %v", b.where, obj.Err)
		}
		if v, ok := b.extract(obj.Key); ok {
			out = append(out, v)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return compareVersions(out[i].version, out[j].version) < 0 })
	return out, nil
}

func (S3) Check(ctx context.Context, raw json.RawMessage, from map[string]string, log io.Writer) ([]map[string]string, error) {
	b, err := openS3(raw)
	if err != nil {
		return nil, err
	}
	if b.re == nil {
		return b.checkVersioned(ctx, from)
	}
	files, err := b.files(ctx)
	if err != nil {
		return nil, err
	}
	if b.src.InitialPath != "" {
		if v, ok := b.extract(b.src.InitialPath); ok {
			files = append([]s3Version{v}, files...)
		}
	}
	if len(files) == 0 {
		return nil, nil
	}
	last, ok := b.extract(from["path"])
	if !ok {
		return []map[string]string{{"path": files[len(files)-1].path}}, nil
	}
	var out []map[string]string
	for _, f := range files {
		if compareVersions(f.version, last.version) >= 0 {
			out = append(out, map[string]string{"path": f.path})
		}
	}
	return out, nil
}

// checkVersioned lists the object versions of versioned_file: from the
// current one on, or the newest.
func (b *s3Bucket) checkVersioned(ctx context.Context, from map[string]string) ([]map[string]string, error) {
	var ids []string // newest first
	for obj := range b.client.ListObjects(ctx, b.src.Bucket, minio.ListObjectsOptions{Prefix: b.src.VersionedFile, WithVersions: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("list versions of %s in %s: %v", b.src.VersionedFile, b.where, obj.Err)
		}
		if obj.Key == b.src.VersionedFile && !obj.IsDeleteMarker && obj.VersionID != "" {
			ids = append(ids, obj.VersionID)
		}
	}
	if len(ids) == 0 {
		if b.src.InitialVersion != "" {
			return []map[string]string{{"version_id": b.src.InitialVersion}}, nil
		}
		return nil, nil
	}
	at := -1
	for i, id := range ids {
		if id == from["version_id"] {
			at = i
			break
		}
	}
	if at < 0 {
		return []map[string]string{{"version_id": ids[0]}}, nil
	}
	var out []map[string]string
	for i := at; i >= 0; i-- {
		out = append(out, map[string]string{"version_id": ids[i]})
	}
	return out, nil
}

// fileName is where a key lands in a get's directory: its base name, which
// must be a plain name.
func fileName(key string) (string, error) {
	name := path.Base(key)
	if name == "" || name == "." || name == ".." || name == "/" || strings.ContainsAny(name, "\\\x00") {
		return "", fmt.Errorf("object %q has no file name to save it under", key)
	}
	return name, nil
}

func (S3) In(ctx context.Context, raw, params json.RawMessage, version map[string]string, dest string, log io.Writer) (Response, error) {
	b, p, err := openS3Call(raw, params)
	if err != nil {
		return Response{}, err
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return Response{}, err
	}
	defer root.Close()
	key, opts, shown := version["path"], minio.GetObjectOptions{}, ""
	if b.re == nil {
		key, opts.VersionID, shown = b.src.VersionedFile, version["version_id"], version["version_id"]
	} else {
		v, ok := b.extract(key)
		if !ok {
			return Response{}, fmt.Errorf("version path %q does not match the regexp %q", key, b.src.Regexp)
		}
		shown = v.version
	}
	name, err := fileName(key)
	if err != nil {
		return Response{}, err
	}
	initial := b.re != nil && key == b.src.InitialPath || b.re == nil && opts.VersionID == b.src.InitialVersion && b.src.InitialVersion != ""
	switch {
	case initial:
		// The initial version has no object: its content is the source's.
		content := []byte(b.src.InitialContentText)
		if b.src.InitialContentBinary != "" {
			content = []byte(b.src.InitialContentBinary)
		}
		if b.src.InitialContentText != "" || b.src.InitialContentBinary != "" {
			if err := root.WriteFile(name, content, 0o644); err != nil {
				return Response{}, err
			}
		}
	case !p.SkipDownload:
		if err := b.download(ctx, key, opts, root, name); err != nil {
			return Response{}, err
		}
	}
	if err := root.WriteFile("version", []byte(shown), 0o644); err != nil {
		return Response{}, err
	}
	u, err := b.url(ctx, key, opts.VersionID)
	if err != nil {
		return Response{}, err
	}
	if !initial {
		if err := root.WriteFile("url", []byte(u), 0o644); err != nil {
			return Response{}, err
		}
	}
	return Response{Version: version, Metadata: b.metadata(key, u)}, nil
}

func (b *s3Bucket) download(ctx context.Context, key string, opts minio.GetObjectOptions, root *os.Root, name string) error {
	// The response's body itself, as minio-go's FGetObject reads it: a
	// minio.Object's reads each go through its goroutine, which made a get
	// 0.6x of FGetObject's speed.
	body, _, _, err := minio.Core{Client: b.client}.GetObject(ctx, b.src.Bucket, key, opts)
	if err != nil {
		return fmt.Errorf("get %s from %s: %v", key, b.where, err)
	}
	defer body.Close()
	f, err := root.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, body); err != nil {
		f.Close()
		return fmt.Errorf("get %s from %s: %v", key, b.where, err)
	}
	return f.Close()
}

// url is where the object is: signed for a day when the bucket is private.
func (b *s3Bucket) url(ctx context.Context, key, versionID string) (string, error) {
	if b.src.Private {
		q := url.Values{}
		if versionID != "" {
			q.Set("versionId", versionID)
		}
		u, err := b.client.PresignedGetObject(ctx, b.src.Bucket, key, 24*time.Hour, q)
		if err != nil {
			return "", fmt.Errorf("sign a URL of %s in %s: %v", key, b.where, err)
		}
		return u.String(), nil
	}
	u := b.client.EndpointURL().JoinPath(b.src.Bucket, key)
	if versionID != "" {
		u.RawQuery = url.Values{"versionId": {versionID}}.Encode()
	}
	return u.String(), nil
}

func (b *s3Bucket) metadata(key, u string) []Metadata {
	md := []Metadata{{Name: "filename", Value: path.Base(key)}}
	if !b.src.Private {
		md = append(md, Metadata{Name: "url", Value: u})
	}
	return md
}

func (S3) Out(ctx context.Context, raw, params json.RawMessage, dir string, log io.Writer) (Response, error) {
	b, p, err := openS3Call(raw, params)
	if err != nil {
		return Response{}, err
	}
	if p.File == "" {
		return Response{}, fmt.Errorf("params: file is required: a glob, in the put's directory, that matches the one file to upload")
	}
	rel, err := globOne(dir, p.File, "file")
	if err != nil {
		return Response{}, err
	}
	f, err := openInPutDir(dir, rel)
	if err != nil {
		return Response{}, fmt.Errorf("params: file %q: %v", p.File, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return Response{}, err
	}
	if !info.Mode().IsRegular() {
		return Response{}, fmt.Errorf("params: file %q is not a regular file", p.File)
	}
	key := b.src.VersionedFile
	if b.re != nil {
		key = path.Join(path.Dir(b.src.Regexp), filepath.Base(rel))
		if path.Dir(b.src.Regexp) == "." {
			key = filepath.Base(rel)
		}
	}
	fmt.Fprintf(log, "uploading %s to %s in %s\n", rel, key, b.where)
	up, err := b.client.PutObject(ctx, b.src.Bucket, key, f, info.Size(), minio.PutObjectOptions{ContentType: p.ContentType})
	if err != nil {
		return Response{}, fmt.Errorf("put %s to %s: %v", key, b.where, err)
	}
	version := map[string]string{"path": key}
	if b.re == nil {
		if up.VersionID == "" {
			return Response{}, fmt.Errorf("put %s to %s: the bucket gave no version id: versioned_file needs a bucket with versioning on", key, b.where)
		}
		version = map[string]string{"version_id": up.VersionID}
	}
	u, err := b.url(ctx, key, up.VersionID)
	if err != nil {
		return Response{}, err
	}
	return Response{Version: version, Metadata: b.metadata(key, u)}, nil
}

// compareVersions orders versions as upstream's semi-semantic versions do,
// closely enough: segments split at '.', '-', '_' and '+', numbers by value,
// other segments as text, and a version before any longer one it begins.
func compareVersions(a, b string) int {
	split := func(s string) []string {
		return strings.FieldsFunc(s, func(r rune) bool { return r == '.' || r == '-' || r == '_' || r == '+' })
	}
	as, bs := split(a), split(b)
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, y := as[i], bs[i]
		xn, xerr := parseUint(x)
		yn, yerr := parseUint(y)
		switch {
		case xerr == nil && yerr == nil:
			if xn != yn {
				if xn < yn {
					return -1
				}
				return 1
			}
		case xerr == nil: // numbers before words
			return -1
		case yerr == nil:
			return 1
		default:
			if c := strings.Compare(x, y); c != 0 {
				return c
			}
		}
	}
	switch {
	case len(as) < len(bs):
		return -1
	case len(as) > len(bs):
		return 1
	}
	return 0
}

func parseUint(s string) (uint64, error) {
	if s == "" || len(s) > 19 {
		return 0, fmt.Errorf("not a number")
	}
	var n uint64
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("not a number")
		}
		n = n*10 + uint64(r-'0')
	}
	return n, nil
}
