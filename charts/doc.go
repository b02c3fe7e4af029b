// Package charts holds the tests of the Helm charts beside it: charts/hub
// (the hub: Deployment, Service, Ingress, generated Secrets, optional
// PostgreSQL for trying it out) and charts/spoke (the agent of one member
// cluster and the least-privilege Role it runs with). The tests lint and
// render the charts with helm (hack/helm.sh), check what they render against
// the real kube-apiserver's OpenAPI, prove the spoke's Role holds exactly what
// the kube cases need, and install both charts on the test control plane.
package charts
