package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The test node's storage class: the cluster's default, so that claims
// without a class get it, as on a cluster with a provisioner.
const (
	storageClass = "vknode-host"
	provisioner  = "switchyard.dev/vknode-host"
)

// provision makes vknode the cluster's volume provisioner: it creates the
// default storage class, a host-directory PersistentVolume for each pending
// claim of that class (the claim's data lives under ROOT/pvcs, where pods
// mounting the claim find it), and deletes released volumes and their data.
// Several vknodes may run it at once: volume names are the claims' UIDs.
func provision(ctx context.Context, client kubernetes.Interface, root string, log *slog.Logger) {
	immediate := storagev1.VolumeBindingImmediate
	deleteReclaim := corev1.PersistentVolumeReclaimDelete
	sc := &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: storageClass, Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
		Provisioner:       provisioner,
		VolumeBindingMode: &immediate,
		ReclaimPolicy:     &deleteReclaim,
	}
	for {
		_, err := client.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) {
			break
		}
		log.Warn("create storage class", slog.String("error", err.Error()))
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := provisionOnce(ctx, client, root); err != nil && ctx.Err() == nil {
			log.Warn("provision volumes", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func provisionOnce(ctx context.Context, client kubernetes.Interface, root string) error {
	claims, err := client.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, c := range claims.Items {
		if c.Status.Phase != corev1.ClaimPending || c.Spec.VolumeName != "" || c.Spec.StorageClassName == nil || *c.Spec.StorageClassName != storageClass {
			continue
		}
		dir := filepath.Join(root, "pvcs", c.Namespace, c.Name)
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return err
		}
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: "pvc-" + string(c.UID), Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": provisioner}},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: c.Spec.Resources.Requests[corev1.ResourceStorage]},
				AccessModes:                   c.Spec.AccessModes,
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
				StorageClassName:              storageClass,
				ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: c.Namespace, Name: c.Name, UID: c.UID},
				PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir}},
			},
		}
		if _, err := client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	volumes, err := client.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, v := range volumes.Items {
		if v.Annotations["pv.kubernetes.io/provisioned-by"] != provisioner || v.Status.Phase != corev1.VolumeReleased {
			continue
		}
		if v.Spec.HostPath != nil {
			if err := os.RemoveAll(v.Spec.HostPath.Path); err != nil {
				return err
			}
		}
		if err := client.CoreV1().PersistentVolumes().Delete(ctx, v.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}
