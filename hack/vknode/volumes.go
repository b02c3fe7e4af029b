package main

import (
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
)

// prepareVolumes makes a host directory for each volume of the pod and returns
// volume name -> directory. emptyDir lives with the pod; a PVC's directory
// outlives it (caches reuse it); configMap, secret and projected volumes are
// written out as files.
func (p *hostProvider) prepareVolumes(pod *corev1.Pod, podDir string) (map[string]string, error) {
	dirs := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		var dir string
		switch {
		case v.EmptyDir != nil:
			dir = filepath.Join(podDir, "volumes", v.Name)
		case v.HostPath != nil:
			dir = v.HostPath.Path
		case v.PersistentVolumeClaim != nil:
			dir = filepath.Join(p.root, "pvcs", pod.Namespace, v.PersistentVolumeClaim.ClaimName)
		case v.ConfigMap != nil, v.Secret != nil, v.Projected != nil, v.DownwardAPI != nil:
			dir = filepath.Join(podDir, "volumes", v.Name)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, err
			}
			if err := p.writeFiles(pod, v, dir); err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
		default:
			return nil, fmt.Errorf("volume %s: vknode supports emptyDir, hostPath, persistentVolumeClaim, configMap, secret and projected volumes", v.Name)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		dirs[v.Name] = dir
	}
	return dirs, nil
}

func (p *hostProvider) writeFiles(pod *corev1.Pod, v corev1.Volume, dir string) error {
	write := func(files map[string][]byte) error {
		for name, data := range files {
			path := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				return err
			}
		}
		return nil
	}
	configMap := func(name string, optional bool) error {
		cm, err := p.cfg.ConfigMaps.ConfigMaps(pod.Namespace).Get(name)
		if err != nil {
			if optional {
				return nil
			}
			return err
		}
		files := map[string][]byte{}
		for k, s := range cm.Data {
			files[k] = []byte(s)
		}
		for k, b := range cm.BinaryData {
			files[k] = b
		}
		return write(files)
	}
	secret := func(name string, optional bool) error {
		s, err := p.cfg.Secrets.Secrets(pod.Namespace).Get(name)
		if err != nil {
			if optional {
				return nil
			}
			return err
		}
		return write(s.Data)
	}
	switch {
	case v.ConfigMap != nil:
		return configMap(v.ConfigMap.Name, v.ConfigMap.Optional != nil && *v.ConfigMap.Optional)
	case v.Secret != nil:
		return secret(v.Secret.SecretName, v.Secret.Optional != nil && *v.Secret.Optional)
	case v.DownwardAPI != nil:
		return p.downward(pod, v.DownwardAPI.Items, write)
	case v.Projected != nil:
		for _, src := range v.Projected.Sources {
			var err error
			switch {
			case src.ConfigMap != nil:
				err = configMap(src.ConfigMap.Name, src.ConfigMap.Optional != nil && *src.ConfigMap.Optional)
			case src.Secret != nil:
				err = secret(src.Secret.Name, src.Secret.Optional != nil && *src.Secret.Optional)
			case src.ServiceAccountToken != nil:
				var token []byte
				if token, err = p.serviceAccountToken(pod, src.ServiceAccountToken); err == nil {
					err = write(map[string][]byte{src.ServiceAccountToken.Path: token})
				}
			case src.DownwardAPI != nil:
				err = p.downward(pod, src.DownwardAPI.Items, write)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}
