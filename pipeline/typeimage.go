package pipeline

import "fmt"

// TypeImageOf is the image of a resource type as a plan with id sees it: a
// core type names itself; a custom type of types carries the check and get
// of its image.
func TypeImageOf(id, typeName string, types []ResourceType) TypeImage {
	return newCompiler(&Config{ResourceTypes: types}).typeImage(id, typeName, nil)
}

// Container is the container image a custom type's steps run in, and whether
// they run privileged; "" for a core type, which a spoke runs itself. Spokes
// pull images by reference, so a custom type's image must come from a
// registry-image or docker-image resource: its repository and tag (the
// image's check and get are not run; see the README).
func (t TypeImage) Container() (image string, privileged bool, err error) {
	if t.CheckPlan == nil || t.CheckPlan.Check == nil {
		return "", false, nil
	}
	c := t.CheckPlan.Check
	if c.Image.CheckPlan != nil || (c.Type != "registry-image" && c.Type != "docker-image") {
		return "", false, fmt.Errorf("resource type %s: its image comes from a %s resource; spokes run custom types from registry-image or docker-image types only", c.Name, c.Type)
	}
	image = RegistryImage(c.Source)
	if image == "" {
		return "", false, fmt.Errorf("resource type %s: source.repository is not set: name the image to run the type's check, in and out from", c.Name)
	}
	return image, t.Privileged, nil
}

// RegistryImage is the image reference a registry-image source names:
// repository, with :tag when set ("" without a repository).
func RegistryImage(source map[string]any) string {
	repo, _ := source["repository"].(string)
	if repo == "" {
		return ""
	}
	if tag, ok := source["tag"].(string); ok && tag != "" {
		return repo + ":" + tag
	}
	return repo
}
