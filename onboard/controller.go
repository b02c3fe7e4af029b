// Package onboard is the Cluster API onboarding controller (switchyard
// onboard): it watches Cluster API's Cluster objects in a management
// cluster, selected by label, and once a Cluster is provisioned and
// available installs a spoke into it (charts/spoke's objects, by
// server-side apply, with a join token it makes for the Cluster's team);
// when the Cluster is deleted it retires the spoke, removes what it
// installed and revokes the token. What it did is written back on the
// Cluster as annotations.
package onboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"

	"github.com/switchyard-ci/switchyard/wire"
)

// The Cluster's annotations: the team its spoke joins (set by its owner),
// and what the controller did (set by the controller).
const (
	AnnotationTeam    = "switchyard.dev/team"
	AnnotationSpoke   = "switchyard.dev/spoke"
	AnnotationState   = "switchyard.dev/onboarding"
	AnnotationMessage = "switchyard.dev/onboarding-message"
	// Finalizer keeps a deleted Cluster until its spoke is removed and its
	// token revoked.
	Finalizer = "switchyard.dev/spoke"
)

// States in AnnotationState.
const (
	StateWaiting   = "waiting"   // the Cluster is not provisioned and available yet
	StateOnboarded = "onboarded" // the spoke is installed
	StateFailed    = "failed"    // the message says why; tried again later
)

// Config is what the controller is given.
type Config struct {
	Management *rest.Config // the management cluster, where the Clusters are
	Namespace  string       // the Clusters' namespace ("": every namespace)
	Selector   string       // label selector of the Clusters to onboard
	// Teams the Clusters may name (empty: any): the team annotation is
	// whatever those who may write Clusters here say.
	Teams []string
	// HubAPI is the hub's API, signed in to as HubUser; Spoke is the spoke
	// every Cluster gets (its Name and Token are the controller's).
	HubAPI, HubUser, HubPassword string
	Spoke                        Spoke
	Resync                       time.Duration // how often every Cluster is looked at again
	Log                          *slog.Logger
}

var clusters = clusterv1.GroupVersion.WithResource("clusters")

// Controller onboards Clusters.
type Controller struct {
	cfg   Config
	dyn   dynamic.Interface
	core  kubernetes.Interface
	hub   *hub
	queue workqueue.TypedRateLimitingInterface[types.NamespacedName]
}

// New makes a controller.
func New(cfg Config) (*Controller, error) {
	dyn, err := dynamic.NewForConfig(cfg.Management)
	if err != nil {
		return nil, err
	}
	core, err := kubernetes.NewForConfig(cfg.Management)
	if err != nil {
		return nil, err
	}
	if cfg.Resync <= 0 {
		cfg.Resync = time.Minute
	}
	return &Controller{cfg: cfg, dyn: dyn, core: core,
		hub:   &hub{url: cfg.HubAPI, user: cfg.HubUser, password: cfg.HubPassword, http: &http.Client{Timeout: 30 * time.Second}},
		queue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[types.NamespacedName]())}, nil
}

// Run watches the Clusters and reconciles each one that changes (and all
// of them every Resync) until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	factory := dynamicinformer.NewFilteredDynamicSharedInformerFactory(c.dyn, c.cfg.Resync, c.cfg.Namespace,
		func(o *metav1.ListOptions) { o.LabelSelector = c.cfg.Selector })
	informer := factory.ForResource(clusters).Informer()
	enqueue := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if u, ok := obj.(*unstructured.Unstructured); ok {
			c.queue.Add(types.NamespacedName{Namespace: u.GetNamespace(), Name: u.GetName()})
		}
	}
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: enqueue, UpdateFunc: func(_, o any) { enqueue(o) }, DeleteFunc: enqueue}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		return fmt.Errorf("list the Clusters (%s, selector %q): %w", clusters, c.cfg.Selector, ctx.Err())
	}
	go func() { <-ctx.Done(); c.queue.ShutDown() }()
	c.cfg.Log.Info("onboarding Clusters", "namespace", c.cfg.Namespace, "selector", c.cfg.Selector)
	for {
		key, quit := c.queue.Get()
		if quit {
			return nil
		}
		err := c.reconcile(ctx, key)
		switch {
		case err != nil && ctx.Err() == nil:
			c.cfg.Log.Error("onboard", "cluster", key.String(), "error", err.Error())
			c.queue.AddRateLimited(key)
		default:
			c.queue.Forget(key)
		}
		c.queue.Done(key)
	}
}

// reconcile brings one Cluster's spoke where the Cluster says.
func (c *Controller) reconcile(ctx context.Context, key types.NamespacedName) error {
	u, err := c.dyn.Resource(clusters).Namespace(key.Namespace).Get(ctx, key.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil // gone: its finalizer was removed after offboarding
	}
	if err != nil {
		return err
	}
	var cl clusterv1.Cluster
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &cl); err != nil {
		return fmt.Errorf("read Cluster %s: %w", key, err)
	}
	name := spokeName(cl.Namespace, cl.Name)
	team := cl.Annotations[AnnotationTeam]
	if cl.DeletionTimestamp != nil {
		if !slices.Contains(cl.Finalizers, Finalizer) {
			return nil
		}
		if err := c.offboard(ctx, &cl, name, team); err != nil {
			return c.say(ctx, &cl, StateFailed, "removing the spoke: "+err.Error(), err)
		}
		return c.setFinalizer(ctx, &cl, false)
	}
	if err := wire.ValidSpokeName(name); err != nil {
		return c.say(ctx, &cl, StateFailed, err.Error()+" (the spoke is named NAMESPACE-NAME of the Cluster)", nil)
	}
	if len(c.cfg.Teams) > 0 && !slices.Contains(c.cfg.Teams, team) {
		return c.say(ctx, &cl, StateFailed, fmt.Sprintf("team %q (annotation %s) is not one this controller onboards for (its --team flags)", team, AnnotationTeam), nil)
	}
	if why := notReady(&cl); why != "" {
		return c.say(ctx, &cl, StateWaiting, why, nil)
	}
	if !slices.Contains(cl.Finalizers, Finalizer) {
		return c.setFinalizer(ctx, &cl, true) // its update brings the Cluster back
	}
	if err := c.onboard(ctx, &cl, name, team); err != nil {
		return c.say(ctx, &cl, StateFailed, err.Error(), err)
	}
	joins := "the shared pool"
	if team != "" {
		joins = "team " + team
	}
	return c.say(ctx, &cl, StateOnboarded, fmt.Sprintf("spoke %s installed in namespace %s; it joins %s", name, c.cfg.Spoke.Namespace, joins), nil)
}

// notReady says why a Cluster is not ready for its spoke, or "".
func notReady(cl *clusterv1.Cluster) string {
	if clusterv1.ClusterPhase(cl.Status.Phase) != clusterv1.ClusterPhaseProvisioned {
		return fmt.Sprintf("the Cluster is %q, not %q yet", cl.Status.Phase, clusterv1.ClusterPhaseProvisioned)
	}
	for _, cond := range cl.Status.Conditions {
		if cond.Type == clusterv1.ClusterAvailableCondition {
			if cond.Status == metav1.ConditionTrue {
				return ""
			}
			return fmt.Sprintf("the Cluster is not %s yet: %s", cond.Type, cond.Message)
		}
	}
	return fmt.Sprintf("the Cluster has no %s condition yet", clusterv1.ClusterAvailableCondition)
}

// workload is a client of the Cluster's workload cluster, from its
// NAME-kubeconfig Secret.
func (c *Controller) workload(ctx context.Context, cl *clusterv1.Cluster) (dynamic.Interface, error) {
	secret := cl.Name + "-kubeconfig"
	s, err := c.core.CoreV1().Secrets(cl.Namespace).Get(ctx, secret, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("the Cluster's kubeconfig Secret %s: %w", secret, err)
	}
	rc, err := workloadConfig(s.Data["value"])
	if err != nil {
		return nil, fmt.Errorf("Secret %s, key value: %w", secret, err)
	}
	rc.Timeout = 30 * time.Second
	return dynamic.NewForConfig(rc)
}

// onboard installs the spoke; its join token is made (or rotated) only
// when the workload cluster has no token Secret of it yet.
func (c *Controller) onboard(ctx context.Context, cl *clusterv1.Cluster, name, team string) error {
	w, err := c.workload(ctx, cl)
	if err != nil {
		return err
	}
	sp := c.cfg.Spoke
	sp.Name = name
	for _, o := range sp.objects()[:2] { // the namespaces first: the Secret lives in one
		if err := apply(ctx, w, o); err != nil {
			return err
		}
	}
	_, err = w.Resource(secrets).Namespace(sp.Namespace).Get(ctx, secretName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if sp.Token, err = c.hub.joinToken(ctx, team, name); err != nil {
			return err
		}
		if err := apply(ctx, w, sp.secret()); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("read Secret %s/%s of the workload cluster: %w", sp.Namespace, secretName, err)
	}
	for _, o := range sp.objects()[2:] {
		if err := apply(ctx, w, o); err != nil {
			return err
		}
	}
	return nil
}

// offboard revokes the token, retires the spoke and removes what onboard
// installed. The workload cluster may be going too (Cluster API tears it
// down as the Cluster is deleted): what cannot be removed there is left
// with a warning rather than holding the Cluster, since its spoke, retired
// and with its token revoked, cannot come back.
func (c *Controller) offboard(ctx context.Context, cl *clusterv1.Cluster, name, team string) error {
	if err := c.hub.revoke(ctx, team, name); err != nil {
		return err
	}
	if err := c.hub.retire(ctx, name); err != nil {
		return err
	}
	log := c.cfg.Log.With("cluster", cl.Namespace+"/"+cl.Name)
	w, err := c.workload(ctx, cl)
	if err != nil {
		log.Warn("the workload cluster cannot be reached: its spoke's objects stay", "error", err.Error())
		return nil
	}
	sp := c.cfg.Spoke
	objects := append(sp.objects(), sp.secret())
	slices.Reverse(objects)
	for _, o := range objects {
		u, err := toUnstructured(o.obj)
		if err != nil {
			return err
		}
		err = w.Resource(o.gvr).Namespace(u.GetNamespace()).Delete(ctx, u.GetName(), metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})
		if err != nil && !apierrors.IsNotFound(err) {
			log.Warn("could not delete from the workload cluster: it stays", "kind", u.GetKind(), "name", u.GetName(), "error", err.Error())
		}
	}
	return nil
}

// apply applies one object by server-side apply, as the controller's.
func apply(ctx context.Context, w dynamic.Interface, o object) error {
	u, err := toUnstructured(o.obj)
	if err != nil {
		return err
	}
	_, err = w.Resource(o.gvr).Namespace(u.GetNamespace()).Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: fieldOwner, Force: true})
	if err != nil {
		return fmt.Errorf("apply %s %s to the workload cluster: %w", u.GetKind(), u.GetName(), err)
	}
	return nil
}

// setFinalizer adds or removes the controller's finalizer.
func (c *Controller) setFinalizer(ctx context.Context, cl *clusterv1.Cluster, on bool) error {
	finalizers := slices.DeleteFunc(slices.Clone(cl.Finalizers), func(f string) bool { return f == Finalizer })
	if on {
		finalizers = append(finalizers, Finalizer)
	}
	return c.patchMeta(ctx, cl, map[string]any{"finalizers": finalizers, "resourceVersion": cl.ResourceVersion})
}

// say writes the controller's state on the Cluster (when it changed) and
// returns err, so that a failed step is tried again.
func (c *Controller) say(ctx context.Context, cl *clusterv1.Cluster, state, message string, err error) error {
	name := spokeName(cl.Namespace, cl.Name)
	if cl.Annotations[AnnotationState] != state || cl.Annotations[AnnotationMessage] != message || cl.Annotations[AnnotationSpoke] != name {
		c.cfg.Log.Info("cluster", "cluster", cl.Namespace+"/"+cl.Name, "state", state, "message", message)
		patch := map[string]any{"annotations": map[string]string{AnnotationState: state, AnnotationMessage: message, AnnotationSpoke: name}}
		if perr := c.patchMeta(ctx, cl, patch); perr != nil && !apierrors.IsNotFound(perr) {
			return errors.Join(err, perr)
		}
	}
	return err
}

func (c *Controller) patchMeta(ctx context.Context, cl *clusterv1.Cluster, meta map[string]any) error {
	raw, err := json.Marshal(map[string]any{"metadata": meta})
	if err != nil {
		return err
	}
	_, err = c.dyn.Resource(clusters).Namespace(cl.Namespace).Patch(ctx, cl.Name, types.MergePatchType, raw, metav1.PatchOptions{FieldManager: fieldOwner})
	return err
}
