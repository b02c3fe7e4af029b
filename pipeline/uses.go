package pipeline

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

// TaskUses lists the task steps of every job.
func (c *Config) TaskUses() []TaskUse {
	var out []TaskUse
	for i := range c.Jobs {
		j := &c.Jobs[i]
		forEachStep(j, func(s *Step) {
			t := s.Task
			if t == nil {
				return
			}
			u := TaskUse{Job: j.Name, Step: t.Name, Image: t.Image, Privileged: t.Privileged}
			if u.Image == "" && t.Config != nil && t.Config.ImageResource != nil {
				u.Image = RegistryImage(t.Config.ImageResource.Source)
			}
			out = append(out, u)
		})
	}
	return out
}
