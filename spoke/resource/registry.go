package resource

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// RegistryImage is Concourse's registry-image resource: versions are
// {tag, digest} of images in an OCI registry, found by a tag, by a tag
// regexp or by semver tags; get writes the image as a rootfs, a tarball or
// an OCI layout; put pushes a tarball under tags. It uses
// go-containerregistry, and never the spoke's own registry credentials:
// only those in source.
type RegistryImage struct{}

type registrySource struct {
	Repository         string   `json:"repository"`
	Tag                string   `json:"tag"`
	TagRegex           string   `json:"tag_regex"`
	Variant            string   `json:"variant"`
	SemverConstraint   string   `json:"semver_constraint"`
	PreReleases        bool     `json:"pre_releases"`
	PreReleasePrefixes []string `json:"pre_release_prefixes"`
	Username           string   `json:"username"`
	Password           string   `json:"password"`
	Insecure           bool     `json:"insecure"`
	CACerts            []string `json:"ca_certs"`
	LabelRegex         string   `json:"label_regex"`
	Platform           *struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
	} `json:"platform"`

	// Upstream's, not here yet: refused by name rather than ignored.
	CreatedAtSort   bool            `json:"created_at_sort"`
	AnnotationRegex string          `json:"annotation_regex"`
	AWSAccessKeyID  string          `json:"aws_access_key_id"`
	AWSRegion       string          `json:"aws_region"`
	AWSRoleARN      string          `json:"aws_role_arn"`
	AzureACR        bool            `json:"azure_acr"`
	RegistryMirror  json.RawMessage `json:"registry_mirror"`
	ContentTrust    json.RawMessage `json:"content_trust"`
}

// registry is a source opened: the repository and how to reach it.
type registry struct {
	src      registrySource
	repo     name.Repository
	platform v1.Platform
	tagRe    *regexp.Regexp
	labelRe  *regexp.Regexp
	opts     []remote.Option
}

func openRegistry(ctx context.Context, raw json.RawMessage) (*registry, error) {
	var src registrySource
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &src); err != nil { // unknown keys pass, as upstream
			return nil, fmt.Errorf("invalid payload: %w", err)
		}
	}
	if src.Repository == "" {
		return nil, fmt.Errorf("source: repository is required (for example registry.example.com/team/app; no host means Docker Hub)")
	}
	for field, set := range map[string]bool{
		"created_at_sort": src.CreatedAtSort, "annotation_regex": src.AnnotationRegex != "",
		"aws_access_key_id (ECR)": src.AWSAccessKeyID != "" || src.AWSRegion != "" || src.AWSRoleARN != "",
		"azure_acr":               src.AzureACR, "registry_mirror": len(src.RegistryMirror) > 0 && string(src.RegistryMirror) != "null",
		"content_trust": len(src.ContentTrust) > 0 && string(src.ContentTrust) != "null",
	} {
		if set {
			return nil, fmt.Errorf("source: %s is not supported by Switchyard's built-in registry-image yet; leave it out, or run upstream's image as a resource type on a kube spoke", field)
		}
	}
	var nameOpts []name.Option
	if src.Insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	repo, err := name.NewRepository(src.Repository, nameOpts...)
	if err != nil {
		return nil, fmt.Errorf("source: repository %q: %v", src.Repository, err)
	}
	r := &registry{src: src, repo: repo, platform: v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}
	if src.Platform != nil {
		if src.Platform.OS != "" {
			r.platform.OS = src.Platform.OS
		}
		if src.Platform.Architecture != "" {
			r.platform.Architecture = src.Platform.Architecture
		}
	}
	if src.TagRegex != "" {
		if r.tagRe, err = regexp.Compile("^(?:" + src.TagRegex + ")$"); err != nil {
			return nil, fmt.Errorf("source: invalid tag_regex %q: %v", src.TagRegex, err)
		}
	}
	if src.LabelRegex != "" {
		if r.labelRe, err = regexp.Compile(src.LabelRegex); err != nil {
			return nil, fmt.Errorf("source: invalid label_regex %q: %v", src.LabelRegex, err)
		}
	}
	transport, err := registryTransport(src.CACerts)
	if err != nil {
		return nil, err
	}
	var auth authn.Authenticator = authn.Anonymous
	if src.Username != "" || src.Password != "" {
		auth = &authn.Basic{Username: src.Username, Password: src.Password}
	}
	r.opts = []remote.Option{remote.WithContext(ctx), remote.WithTransport(transport), remote.WithAuth(auth), remote.WithPlatform(r.platform)}
	return r, nil
}

// registryTransport bounds how long a registry may keep a request, refuses
// link-local addresses, and trusts ca_certs beside the system's roots.
func registryTransport(caCerts []string) (http.RoundTripper, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = time.Minute
	t.DialContext = (&net.Dialer{Timeout: 30 * time.Second, Control: refuseLinkLocal}).DialContext
	if len(caCerts) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		for i, pem := range caCerts {
			if !pool.AppendCertsFromPEM([]byte(pem)) {
				return nil, fmt.Errorf("source: ca_certs[%d] holds no PEM certificate", i)
			}
		}
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return t, nil
}

func (r *registry) where() string { return r.repo.Name() }

// bareTag is the tag that is not a version: the variant, or latest.
func (r *registry) bareTag() string {
	if r.src.Variant != "" {
		return r.src.Variant
	}
	return "latest"
}

// tagOf is the tag a version or the source names.
func (r *registry) tagOf(version map[string]string) string {
	if t := version["tag"]; t != "" {
		return t
	}
	if r.src.Tag != "" {
		return r.src.Tag
	}
	return r.bareTag()
}

func (RegistryImage) Check(ctx context.Context, raw json.RawMessage, from map[string]string, log io.Writer) ([]map[string]string, error) {
	r, err := openRegistry(ctx, raw)
	if err != nil {
		return nil, err
	}
	switch {
	case r.src.Tag != "":
		return r.checkTag(from)
	case r.tagRe != nil:
		tags, err := r.listTags()
		if err != nil {
			return nil, err
		}
		var keep []string
		for _, t := range tags {
			if r.tagRe.MatchString(t) {
				keep = append(keep, t)
			}
		}
		versions, err := r.digests(keep)
		return fromVersion(versions, from), err
	default:
		versions, err := r.checkSemver()
		return fromVersion(versions, from), err
	}
}

// checkTag is the tag's current digest, after the version checked last if
// its digest still exists.
func (r *registry) checkTag(from map[string]string) ([]map[string]string, error) {
	desc, err := remote.Head(r.repo.Tag(r.src.Tag), r.opts...)
	if err != nil {
		return nil, fmt.Errorf("check %s:%s: %v", r.where(), r.src.Tag, err)
	}
	now := map[string]string{"tag": r.src.Tag, "digest": desc.Digest.String()}
	if from == nil || from["digest"] == now["digest"] || from["digest"] == "" {
		return []map[string]string{now}, nil
	}
	if _, err := remote.Head(r.repo.Digest(from["digest"]), r.opts...); err == nil {
		return []map[string]string{from, now}, nil
	}
	return []map[string]string{now}, nil
}

func (r *registry) listTags() ([]string, error) {
	tags, err := remote.List(r.repo, r.opts...)
	if err != nil {
		return nil, fmt.Errorf("list the tags of %s: %w", r.where(), err)
	}
	return tags, nil
}

// checkSemver is upstream's default: semver tags in order, each digest once
// with its most specific tag, then the bare tag (latest, or the variant) if
// its digest is new and no constraint is set.
func (r *registry) checkSemver() ([]map[string]string, error) {
	var constraint *semver.Constraints
	if r.src.SemverConstraint != "" {
		c, err := semver.NewConstraint(r.src.SemverConstraint)
		if err != nil {
			return nil, fmt.Errorf("source: invalid semver_constraint %q: %v", r.src.SemverConstraint, err)
		}
		constraint = c
	}
	tags, err := r.listTags()
	if err != nil {
		return nil, err
	}
	bare := r.bareTag()
	type tagged struct {
		tag string
		v   *semver.Version
	}
	var found []tagged
	hasBare := false
	for _, t := range tags {
		if t == bare {
			hasBare = true
			continue
		}
		v, ok := r.semverOf(t)
		if !ok || (constraint != nil && !constraint.Check(v)) {
			continue
		}
		found = append(found, tagged{t, v})
	}
	// Ascending; among equal versions (1, 1.2, 1.2.0) the most specific last.
	slices.SortStableFunc(found, func(a, b tagged) int {
		if c := a.v.Compare(b.v); c != 0 {
			return c
		}
		return strings.Count(a.tag, ".") - strings.Count(b.tag, ".")
	})
	names := make([]string, len(found))
	for i, f := range found {
		names[i] = f.tag
	}
	versions, err := r.digests(names)
	if err != nil {
		return nil, err
	}
	// Each digest once, with its most specific tag (1.2.3 over 1.2 and 1,
	// which move with it): its last one in order, at that place.
	seen := map[string]bool{}
	var out []map[string]string
	for i := len(versions) - 1; i >= 0; i-- {
		if v := versions[i]; !seen[v["digest"]] {
			seen[v["digest"]] = true
			out = append(out, v)
		}
	}
	slices.Reverse(out)
	if hasBare && constraint == nil {
		b, err := r.digests([]string{bare})
		if err != nil {
			return nil, err
		}
		if _, ok := seen[b[0]["digest"]]; !ok {
			out = append(out, b[0])
		}
	}
	return out, nil
}

// semverOf parses a tag as upstream does: with a variant, only tags ending
// in -VARIANT; pre-releases only with pre_releases (and, with
// pre_release_prefixes, only those).
func (r *registry) semverOf(tag string) (*semver.Version, bool) {
	s := tag
	if r.src.Variant != "" {
		if !strings.HasSuffix(tag, "-"+r.src.Variant) {
			return nil, false
		}
		s = strings.TrimSuffix(tag, "-"+r.src.Variant)
	}
	v, err := semver.NewVersion(s)
	if err != nil {
		return nil, false
	}
	if pre := v.Prerelease(); pre != "" {
		if !r.src.PreReleases {
			return nil, false
		}
		if len(r.src.PreReleasePrefixes) > 0 && !slices.ContainsFunc(r.src.PreReleasePrefixes, func(p string) bool { return strings.HasPrefix(pre, p) }) {
			return nil, false
		}
	}
	return v, true
}

// digests asks for each tag's digest, eight at a time, keeping the order.
func (r *registry) digests(tags []string) ([]map[string]string, error) {
	out := make([]map[string]string, len(tags))
	errs := make([]error, len(tags))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, t := range tags {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			desc, err := remote.Head(r.repo.Tag(t), r.opts...)
			if err != nil {
				errs[i] = fmt.Errorf("check %s:%s: %v", r.where(), t, err)
				return
			}
			out[i] = map[string]string{"tag": t, "digest": desc.Digest.String()}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// fromVersion keeps the versions from the one checked last on; all of them
// when it is gone (or on the first check).
func fromVersion(versions []map[string]string, from map[string]string) []map[string]string {
	if from == nil {
		return versions
	}
	for i, v := range versions {
		if v["digest"] == from["digest"] && (from["tag"] == "" || v["tag"] == from["tag"]) {
			return versions[i:]
		}
	}
	return versions
}
