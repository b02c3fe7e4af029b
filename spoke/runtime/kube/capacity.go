package kube

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/switchyard-ci/switchyard/wire"
)

// Capacity is what the cluster's schedulable nodes can allocate, summed: the
// most a spoke's steps could ever ask for at once. It needs to list nodes;
// a spoke whose service account may not gets an error and reports none.
func (rt *Runtime) Capacity(ctx context.Context) (wire.Capacity, error) {
	nodes, err := rt.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return wire.Capacity{}, fmt.Errorf("list nodes for the spoke's capacity: %w", err)
	}
	var c wire.Capacity
	for _, n := range nodes.Items {
		if n.Spec.Unschedulable {
			continue
		}
		c.CPU += n.Status.Allocatable.Cpu().AsApproximateFloat64()
		c.Memory += n.Status.Allocatable.Memory().Value()
	}
	return c, nil
}
