package kube

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/switchyard-ci/switchyard/wire"
)

// digestPattern is an image digest as a registry-image get writes it.
var digestPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// artifactImage is the image of a task whose image is a build artifact: a
// pod pulls images from registries, so the artifact must be a registry-image
// get, whose repository and digest files name the image it fetched; the
// pod runs exactly that image, by digest.
func (rt *Runtime) artifactImage(buildID int64, artifact string) (string, error) {
	if rt.Local == nil {
		return "", fmt.Errorf("image %s: the kube runtime keeps no artifacts without a local runtime", artifact)
	}
	read := func(file string) (string, error) {
		data, err := rt.Local.ReadArtifactFile(buildID, artifact, file)
		if err != nil {
			return "", fmt.Errorf("image %s has no %s file, so it names no registry image, and a pod can only run one from a registry: get the image with a registry-image get", artifact, file)
		}
		return strings.TrimSpace(string(data)), nil
	}
	repo, err := read("repository")
	if err != nil {
		return "", err
	}
	digest, err := read("digest")
	if err != nil {
		return "", err
	}
	if !digestPattern.MatchString(digest) {
		return "", fmt.Errorf("image %s: digest %.80q is not a sha256 digest", artifact, digest)
	}
	ref, err := name.NewDigest(repo + "@" + digest)
	if err != nil {
		return "", fmt.Errorf("image %s: repository %.200q: %w", artifact, repo, err)
	}
	return ref.String(), nil
}

// namesOnly turns the registry-image get of a task's image into one that
// fetches only what names the image (skip_download): the task's pod pulls
// it from the registry by digest, so its layers are not needed here.
func namesOnly(req wire.StepRequest) wire.StepRequest {
	if req.Kind != wire.KindGet || !req.ForTask || req.Type != "registry-image" {
		return req
	}
	params := map[string]any{}
	if len(req.Params) > 0 && string(req.Params) != "null" {
		if err := json.Unmarshal(req.Params, &params); err != nil {
			return req // the get reports the bad params itself
		}
	}
	params["skip_download"] = true
	req.Params, _ = json.Marshal(params)
	return req
}

// pullSecretName is the Secret of a step's pod that holds the credentials
// for its image.
func pullSecretName(pod string) string { return pod + "-pull" }

// pullSecret is the image pull secret of a task whose image came from a
// registry-image source with credentials: a kubernetes.io/dockerconfigjson
// Secret for the image's registry, owned by the pod like its env Secret;
// nil when the source has none.
func pullSecret(pod, image string, source json.RawMessage) (*corev1.Secret, error) {
	var src struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if len(source) == 0 {
		return nil, nil
	}
	if err := json.Unmarshal(source, &src); err != nil {
		return nil, fmt.Errorf("image source: %w", err)
	}
	if src.Username == "" && src.Password == "" {
		return nil, nil
	}
	ref, err := name.ParseReference(image)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", image, err)
	}
	registry := ref.Context().RegistryStr()
	if registry == name.DefaultRegistry {
		registry = "https://index.docker.io/v1/" // the key Docker's own config uses for Docker Hub
	}
	auth := base64.StdEncoding.EncodeToString([]byte(src.Username + ":" + src.Password))
	config, err := json.Marshal(map[string]any{"auths": map[string]any{
		registry: map[string]string{"username": src.Username, "password": src.Password, "auth": auth},
	}})
	if err != nil {
		return nil, err
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: pullSecretName(pod), Labels: map[string]string{LabelManagedBy: ManagedBy}},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: config},
	}, nil
}
