package kube

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/switchyard-ci/switchyard/pipeline"
	"github.com/switchyard-ci/switchyard/wire"
)

// Labels of a task cache's claim, besides the managed-by and spoke labels.
const (
	LabelCache    = "switchyard.dev/cache" // "task"
	LabelPipeline = "switchyard.dev/pipeline"
	LabelJob      = "switchyard.dev/job"
)

// cache is one of a task's caches: where the task sees it and the claim that
// keeps it.
type cache struct {
	path  string // relative to the build directory
	claim string
}

// CacheClaim is the PersistentVolumeClaim that keeps a job's task cache:
// <pipeline>-<job>-<step>-cache-<hash>, the same for every build of the job
// on this spoke's namespace, so that each build finds what the last one left,
// until fly clear-task-cache moves the cache's epoch on.
func CacheClaim(a wire.Assignment, cachePath string) string {
	return cacheClaim(a, cachePath, a.Request.CacheEpoch(cachePath))
}

func cacheClaim(a wire.Assignment, cachePath string, epoch int64) string {
	env := a.Request.Env
	key := cacheKey(a, cachePath)
	if epoch > 0 {
		key += "/" + strconv.FormatInt(epoch, 10)
	}
	sum := sha256.Sum256([]byte(key))
	return dnsName([]string{dnsPart(env["BUILD_PIPELINE_NAME"]), dnsPart(env["BUILD_JOB_NAME"]), dnsPart(a.Request.Name), "cache"}, hex.EncodeToString(sum[:])[:8])
}

// cacheKey names a task cache whatever its epoch.
func cacheKey(a wire.Assignment, cachePath string) string {
	env := a.Request.Env
	return strings.Join([]string{env["BUILD_TEAM_NAME"], env["BUILD_PIPELINE_NAME"], env["BUILD_JOB_NAME"], a.Request.Name, path.Clean(cachePath)}, "/")
}

// dropCleared deletes the claims of a cache's earlier epochs.
func (rt *Runtime) dropCleared(ctx context.Context, a wire.Assignment, cachePath string) error {
	epoch := a.Request.CacheEpoch(cachePath)
	for e := int64(0); e < epoch; e++ {
		err := rt.Client.CoreV1().PersistentVolumeClaims(rt.Namespace).Delete(ctx, cacheClaim(a, cachePath, e), metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete a cleared cache: %w", err)
		}
	}
	return nil
}

// caches makes sure each of a job's task caches has its claim, and lists
// them. One-off builds have no job: their caches live and die with the pod,
// as in Concourse.
func (rt *Runtime) caches(ctx context.Context, a wire.Assignment, cfg *pipeline.TaskConfig) ([]cache, error) {
	job := a.Request.Env["BUILD_JOB_NAME"]
	if job == "" || len(cfg.Caches) == 0 {
		return nil, nil
	}
	size, err := resource.ParseQuantity(rt.cacheSize())
	if err != nil {
		return nil, fmt.Errorf("cache size %q: %w", rt.CacheSize, err)
	}
	var out []cache
	for _, c := range cfg.Caches {
		name := CacheClaim(a, c.Path)
		pvc := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
				LabelManagedBy: ManagedBy, LabelSpoke: dnsPart(rt.Spoke), LabelCache: "task",
				LabelPipeline: labelValue(a.Request.Env["BUILD_PIPELINE_NAME"]), LabelJob: labelValue(job), LabelStep: labelValue(a.Request.Name),
			}},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
			},
		}
		if rt.CacheStorageClass != "" {
			pvc.Spec.StorageClassName = &rt.CacheStorageClass
		}
		_, err := rt.Client.CoreV1().PersistentVolumeClaims(rt.Namespace).Create(ctx, pvc, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			err = nil
		} else if err == nil {
			err = rt.dropCleared(ctx, a, c.Path) // a new claim: the cache was cleared, or is new
		}
		if err != nil {
			return nil, fmt.Errorf("cache %s: claim %s: %w", c.Path, name, err)
		}
		out = append(out, cache{path: path.Clean(c.Path), claim: name})
	}
	return out, nil
}

func (rt *Runtime) cacheSize() string {
	if rt.CacheSize != "" {
		return rt.CacheSize
	}
	return "1Gi"
}

// mountCaches gives the pod's task container its caches' claims, at their
// paths in the build directory.
func mountCaches(pod *corev1.Pod, dir string, caches []cache) {
	task := &pod.Spec.Containers[0]
	for i, c := range caches {
		vol := fmt.Sprintf("cache-%d", i)
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c.claim}}})
		task.VolumeMounts = append(task.VolumeMounts, corev1.VolumeMount{Name: vol, MountPath: path.Join(dir, c.path)})
	}
}

// labelValue is s as a label value: a DNS part of at most 63 characters.
func labelValue(s string) string {
	v := dnsPart(s)
	if len(v) > 63 {
		v = strings.TrimRight(v[:63], "-")
	}
	return v
}
