package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
)

// nodeOptions say what the test node is.
type nodeOptions struct {
	name, root, images string
	listen             string
	apiServer          string // URL
	cert               tls.Certificate
	spec               corev1.Node
}

// runNode runs the node's pod and node controllers and its kubelet API until
// ctx ends. It is virtual-kubelet's nodeutil.NewNode and Node.Run, but for
// the work queues' rate limits: theirs default to 10 operations a second (a
// burst of 100) shared by every pod, which makes 50 pods wait about 10 s for
// their status once the burst is spent.
func runNode(ctx context.Context, client kubernetes.Interface, o nodeOptions, log *slog.Logger) error {
	pods := informers.NewSharedInformerFactoryWithOptions(client, time.Minute, nodeutil.PodInformerFilter(o.name))
	others := informers.NewSharedInformerFactoryWithOptions(client, time.Minute)
	podInformer := pods.Core().V1().Pods()
	secrets, configMaps, services := others.Core().V1().Secrets(), others.Core().V1().ConfigMaps(), others.Core().V1().Services()
	provider := newHostProvider(o.root, o.images, nodeutil.ProviderConfig{Pods: podInformer.Lister(), ConfigMaps: configMaps.Lister(),
		Secrets: secrets.Lister(), Services: services.Lister(), Node: &o.spec}, log)
	provider.client, provider.apiServer = client, o.apiServer
	defer provider.stopAll()

	mux := http.NewServeMux()
	mux.Handle("/", api.PodHandler(api.PodHandlerConfig{
		RunInContainer: provider.RunInContainer, AttachToContainer: provider.AttachToContainer,
		GetContainerLogs: provider.GetContainerLogs, GetPods: provider.GetPods,
		GetPodsFromKubernetes: func(context.Context) ([]*corev1.Pod, error) { return podInformer.Lister().List(labels.Everything()) },
		GetStatsSummary:       provider.GetStatsSummary, GetMetricsResource: provider.GetMetricsResource, PortForward: provider.PortForward,
	}, true))
	ln, err := tls.Listen("tcp", o.listen, &tls.Config{Certificates: []tls.Certificate{o.cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		return fmt.Errorf("kubelet API: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	broadcaster := record.NewBroadcaster()
	broadcaster.StartRecordingToSink(&corev1client.EventSinkImpl{Interface: client.CoreV1().Events(corev1.NamespaceAll)})
	defer broadcaster.Shutdown()
	fast := func() workqueue.TypedRateLimiter[any] {
		return workqueue.NewTypedMaxOfRateLimiter(
			workqueue.NewTypedItemExponentialFailureRateLimiter[any](5*time.Millisecond, 10*time.Second),
			&workqueue.TypedBucketRateLimiter[any]{Limiter: rate.NewLimiter(rate.Limit(2000), 4000)})
	}
	pc, err := node.NewPodController(node.PodControllerConfig{
		PodClient: client.CoreV1(), EventRecorder: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: o.name + "/pod-controller"}),
		Provider: provider, PodInformer: podInformer, SecretInformer: secrets, ConfigMapInformer: configMaps, ServiceInformer: services,
		SyncPodsFromKubernetesRateLimiter: fast(), DeletePodsFromKubernetesRateLimiter: fast(), SyncPodStatusFromProviderRateLimiter: fast(),
	})
	if err != nil {
		return err
	}
	np := node.NewNaiveNodeProvider()
	nc, err := node.NewNodeController(np, &o.spec, client.CoreV1().Nodes(),
		node.WithNodeEnableLeaseV1(nodeutil.NodeLeaseV1Client(client), node.DefaultLeaseDuration))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pods.Start(ctx.Done())
	others.Start(ctx.Done())
	go func() { _ = pc.Run(ctx, 16) }()
	select {
	case <-ctx.Done():
		return nil
	case <-pc.Ready():
	case <-pc.Done():
		return pc.Err()
	}
	go func() { _ = nc.Run(ctx) }()
	select {
	case <-ctx.Done():
		return nil
	case <-nc.Ready():
	case <-nc.Done():
		return nc.Err()
	}
	o.spec.Status.Phase = corev1.NodeRunning
	for i, c := range o.spec.Status.Conditions {
		if c.Type == corev1.NodeReady {
			c.Status, c.Reason, c.Message = corev1.ConditionTrue, "KubeletReady", "Kubelet is ready"
			c.LastHeartbeatTime, c.LastTransitionTime = metav1.Now(), metav1.Now()
			o.spec.Status.Conditions[i] = c
		}
	}
	if err := np.UpdateStatus(ctx, &o.spec); err != nil {
		return fmt.Errorf("mark the node ready: %w", err)
	}
	log.Info("node ready")
	select {
	case <-ctx.Done():
		<-pc.Done()
		return nil
	case <-nc.Done():
		return nc.Err()
	case <-pc.Done():
		return pc.Err()
	}
}

// nodeSpec is the node as the test node registers it.
func nodeSpec(name, host string, port int, capacity corev1.ResourceList) corev1.Node {
	return corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			"type": "virtual-kubelet", "kubernetes.io/role": "agent", "kubernetes.io/hostname": name, "switchyard.dev/test-node": "true"}},
		Status: corev1.NodeStatus{
			Phase: corev1.NodePending,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady}, {Type: corev1.NodeDiskPressure},
				{Type: corev1.NodeMemoryPressure}, {Type: corev1.NodePIDPressure}, {Type: corev1.NodeNetworkUnavailable}},
			Capacity: capacity, Allocatable: capacity,
			Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: host}},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(port)}},
			NodeInfo:        corev1.NodeSystemInfo{OperatingSystem: "linux", Architecture: "amd64", KubeletVersion: "v1.34.4-vknode"},
		},
	}
}
