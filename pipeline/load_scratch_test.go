package pipeline

import (
	"os"
	"testing"
)

func TestScratch(t *testing.T) {
	data, _ := os.ReadFile("/tmp/t1.yml")
	p, err := Load(data, Options{File: "t1.yml", Vars: Vars{"org": "acme"}})
	t.Logf("err: %v\nwarn: %v\njson: %s", err, p.Warnings, p.JSON)
}
