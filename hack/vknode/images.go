package main

import (
	"os"
	"path/filepath"
	"strings"
)

// imageBinds stands in for an image's file system where tests need one: when
// the images directory has a folder for the image (its reference with / and :
// turned into _), every IMAGES/<image>/<a>/<b> is bound at /<a>/<b> in the
// container, before its volumes. A resource type's image is then
// IMAGES/<image>/opt/resource/{check,in,out}. Other images run on the host's
// file system as they are.
func (p *hostProvider) imageBinds(image string) ([][2]string, error) {
	if p.images == "" || image == "" {
		return nil, nil
	}
	root := filepath.Join(p.images, strings.NewReplacer("/", "_", ":", "_").Replace(image))
	tops, err := os.ReadDir(root)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var binds [][2]string
	for _, top := range tops {
		if !top.IsDir() {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(root, top.Name()))
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			binds = append(binds, [2]string{filepath.Join(root, top.Name(), e.Name()), "/" + top.Name() + "/" + e.Name()})
		}
	}
	return binds, nil
}
