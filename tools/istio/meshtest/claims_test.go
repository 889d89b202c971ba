// Package meshtest checks the handbook's mesh claims against the Envoy configuration that Istio's
// own config generator produces for a snapshot of one stage's end state.
//
// The snapshot and the claims come from tests/istio (Python), which derives every expectation
// from the manifests and manifests/call-graph.yaml. This program only knows how to ask Istio's
// fake discovery server (pilot/test/xds) and its traffic simulation (pilot/pkg/simulation).
//
//	MESHTEST_SNAPSHOT=snapshot.json MESHTEST_REPORT=report.json ./meshtest.test -test.run TestClaims -test.v
//
// Each claim is a subtest named after its id; the report holds, per claim, whether it held, the
// problems found, and what Istio generated.
package meshtest

import (
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"

	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/pkg/simulation"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/test"
)

// Snapshot is what tests/istio/mesh_snapshot.py writes.
type Snapshot struct {
	MeshConfig string            `json:"meshConfig"` // YAML, as in the ConfigMap istio-<rev>
	Kube       []json.RawMessage `json:"kube"`
	Istio      []json.RawMessage `json:"istio"`
	Proxies    map[string]Proxy  `json:"proxies"`
	Claims     []Claim           `json:"claims"`
}

// Proxy is one pod with a sidecar or a gateway.
type Proxy struct {
	IP             string            `json:"ip"`
	Namespace      string            `json:"namespace"`
	Labels         map[string]string `json:"labels"`
	ServiceAccount string            `json:"serviceAccount"`
	Router         bool              `json:"router"`
	Pod            string            `json:"pod"`
}

// Claim is one statement of a page, in terms of Envoy configuration.
type Claim struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"` // call | routes | cluster | rbac
	Proxy string `json:"proxy"`
	// call
	Call   *CallSpec `json:"call,omitempty"`
	Expect *Expected `json:"expect,omitempty"`
	// routes: the virtual host with this domain, its routes in order
	Domain string           `json:"domain,omitempty"`
	Routes []map[string]any `json:"routes,omitempty"`
	Absent []string         `json:"absent,omitempty"` // slash-separated paths that no route may have
	// cluster: the cluster of this name contains Contains and has exactly these endpoints
	Cluster   string         `json:"cluster,omitempty"`
	Contains  map[string]any `json:"contains,omitempty"`
	Endpoints []string       `json:"endpoints,omitempty"`
	// rbac: which of Candidates the inbound RBAC filters let in (exactly Principals), never Denied
	Principals []string `json:"principals,omitempty"`
	Candidates []string `json:"candidates,omitempty"` // the identities to ask about
	Denied     []string `json:"denied,omitempty"`
}

type CallSpec struct {
	Mode     string `json:"mode"` // gateway | inbound | outbound
	Port     int    `json:"port"`
	Host     string `json:"host"`
	Path     string `json:"path"`
	TLS      string `json:"tls"` // plaintext | mtls
	Protocol string `json:"protocol"`
}

type Expected struct {
	Cluster string `json:"cluster,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Outcome is one claim's entry in the report.
type Outcome struct {
	Held     bool     `json:"held"`
	Problems []string `json:"problems,omitempty"`
	Actual   any      `json:"actual,omitempty"`
}

func loadSnapshot(t *testing.T) *Snapshot {
	path := os.Getenv("MESHTEST_SNAPSHOT")
	if path == "" {
		t.Skip("MESHTEST_SNAPSHOT is not set: run through tests/istio (pytest)")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the snapshot: %v", err)
	}
	var s Snapshot
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("%s: not a snapshot: %v", path, err)
	}
	return &s
}

func joinDocuments(docs []json.RawMessage) string {
	parts := make([]string, 0, len(docs))
	for _, d := range docs {
		parts = append(parts, string(d))
	}
	return strings.Join(parts, "\n---\n")
}

func newServer(t test.Failer, s *Snapshot) *xds.FakeDiscoveryServer {
	m, err := mesh.ApplyMeshConfigDefaults(s.MeshConfig)
	if err != nil {
		t.Fatalf("the snapshot's mesh config: %v", err)
	}
	return xds.NewFakeDiscoveryServer(t, xds.FakeOptions{
		KubernetesObjectString: joinDocuments(s.Kube),
		ConfigString:           joinDocuments(s.Istio),
		MeshConfig:             m,
	})
}

func setupProxy(f *xds.FakeDiscoveryServer, name string, p Proxy) *model.Proxy {
	kind := model.SidecarProxy
	if p.Router {
		kind = model.Router
	}
	labels := map[string]string{}
	for k, v := range p.Labels {
		labels[k] = v
	}
	return f.SetupProxy(&model.Proxy{
		Type:            kind,
		ID:              p.Pod + "." + p.Namespace,
		IPAddresses:     []string{p.IP},
		ConfigNamespace: p.Namespace,
		Labels:          labels,
		Metadata: &model.NodeMetadata{
			Namespace:      p.Namespace,
			Labels:         labels,
			ServiceAccount: p.ServiceAccount,
			IstioVersion:   "1.30.0",
			ClusterID:      "Kubernetes",
		},
	})
}

func TestClaims(t *testing.T) {
	s := loadSnapshot(t)
	f := newServer(t, s)
	report := map[string]*Outcome{}
	sims := map[string]*simulation.Simulation{}
	proxies := map[string]*model.Proxy{}
	for _, c := range s.Claims {
		c := c
		t.Run(c.ID, func(t *testing.T) {
			p, ok := s.Proxies[c.Proxy]
			if !ok {
				t.Fatalf("claim %s names proxy %q, which the snapshot does not hold", c.ID, c.Proxy)
			}
			if _, done := proxies[c.Proxy]; !done {
				proxies[c.Proxy] = setupProxy(f, c.Proxy, p)
				sims[c.Proxy] = simulation.NewSimulation(t, f, proxies[c.Proxy])
			}
			out := evaluate(f, proxies[c.Proxy], sims[c.Proxy], c)
			out.Held = len(out.Problems) == 0
			report[c.ID] = out
			for _, problem := range out.Problems {
				t.Errorf("%s", problem)
			}
		})
	}
	if path := os.Getenv("MESHTEST_REPORT"); path != "" {
		raw, err := json.MarshalIndent(report, "", " ")
		if err != nil {
			t.Fatalf("report: %v", err)
		}
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			t.Fatalf("report: %v", err)
		}
	}
}

func evaluate(f *xds.FakeDiscoveryServer, p *model.Proxy, sim *simulation.Simulation, c Claim) *Outcome {
	switch c.Kind {
	case "call":
		return checkCall(f, p, sim, c)
	case "routes":
		return checkRoutes(sim, c)
	case "cluster":
		return checkCluster(f, p, sim, c)
	case "rbac":
		return checkRBAC(p, sim, c)
	}
	return &Outcome{Problems: []string{"unknown claim kind " + c.Kind}}
}

func sortedCopy(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
}
