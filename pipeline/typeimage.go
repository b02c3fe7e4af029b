package pipeline

// TypeImageOf is the image of a resource type as a plan with id sees it: a
// core type names itself; a custom type of types carries the check and get
// of its image.
func TypeImageOf(id, typeName string, types []ResourceType) TypeImage {
	return newCompiler(&Config{ResourceTypes: types}).typeImage(id, typeName, nil)
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
