package pipeline

import "path"

// TaskUse is what one task step asks to run with, for admission policies:
// its image (an image_resource's repository and tag, or the artifact named by
// image:) and whether it is privileged. A task from a file is known only by
// its step's settings.
type TaskUse struct {
	Job        string `json:"job"`
	Step       string `json:"step"`
	Image      string `json:"image,omitempty"`
	Privileged bool   `json:"privileged"`
}

// TaskUses lists the task steps of every job. A task whose image: is the
// job's get of a registry-image resource uses that resource's image.
func (c *Config) TaskUses() []TaskUse {
	var out []TaskUse
	for i := range c.Jobs {
		j := &c.Jobs[i]
		gets := map[string]string{} // get name -> the image its resource names
		forEachStep(j, func(s *Step) {
			if g := s.Get; g != nil {
				name := g.Resource
				if name == "" {
					name = g.Name
				}
				for _, r := range c.Resources {
					if r.Name == name && (r.Type == "registry-image" || r.Type == "docker-image") {
						gets[g.Name] = RegistryImage(r.Source)
					}
				}
			}
		})
		forEachStep(j, func(s *Step) {
			t := s.Task
			if t == nil {
				return
			}
			u := TaskUse{Job: j.Name, Step: t.Name, Image: t.Image, Privileged: t.Privileged}
			if image := gets[t.Image]; t.Image != "" && image != "" {
				u.Image = image
			}
			if u.Image == "" && t.Config != nil && t.Config.ImageResource != nil {
				u.Image = RegistryImage(t.Config.ImageResource.Source)
			}
			out = append(out, u)
		})
	}
	return out
}

// TaskCaches lists the cache paths of the job's task steps named step whose
// config is inline (a task file's are not known here), only cachePath when
// it is given.
func (j *Job) TaskCaches(step, cachePath string) []string {
	var out []string
	forEachStep(j, func(s *Step) {
		t := s.Task
		if t == nil || t.Name != step || t.Config == nil {
			return
		}
		for _, c := range t.Config.Caches {
			if cachePath == "" || path.Clean(c.Path) == path.Clean(cachePath) {
				out = append(out, c.Path)
			}
		}
	})
	return out
}
