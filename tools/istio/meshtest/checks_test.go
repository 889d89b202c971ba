package meshtest

import (
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strings"

	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/pkg/simulation"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pilot/test/xdstest"
)

// asJSON turns an Envoy message into plain JSON values, with the names Envoy's JSON uses.
func asJSON(m proto.Message) any {
	raw, err := protojson.Marshal(m)
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	var out any
	_ = json.Unmarshal(raw, &out)
	return out
}

// contains reports where `got` differs from `want`: every key of a wanted object must be present
// and match; lists must have the same length and match element by element; scalars must be equal.
func contains(got, want any, path string) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an object %v, got %v", path, compact(w), compact(got))}
		}
		var problems []string
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			gv, present := g[k]
			if !present {
				problems = append(problems, fmt.Sprintf("%s.%s: missing (want %v)", path, k, compact(w[k])))
				continue
			}
			problems = append(problems, contains(gv, w[k], path+"."+k)...)
		}
		return problems
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: want %v, got %v", path, compact(w), compact(got))}
		}
		var problems []string
		for i := range w {
			problems = append(problems, contains(g[i], w[i], fmt.Sprintf("%s[%d]", path, i))...)
		}
		return problems
	default:
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return []string{fmt.Sprintf("%s: want %v, got %v", path, compact(want), compact(got))}
		}
	}
	return nil
}

func compact(v any) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}

// lookup follows a slash-separated path through JSON objects; ok is false when any step is missing.
func lookup(v any, path string) (any, bool) {
	for _, key := range strings.Split(path, "/") {
		m, isMap := v.(map[string]any)
		if !isMap {
			return nil, false
		}
		if v, isMap = m[key]; !isMap {
			return nil, false
		}
	}
	return v, true
}

func endpointsOf(f *xds.FakeDiscoveryServer, p *model.Proxy, cluster string) []string {
	var ips []string
	for _, addr := range xdstest.ExtractLoadAssignments(f.Endpoints(p))[cluster] {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		ips = append(ips, host)
	}
	sort.Strings(ips)
	return ips
}

func checkCall(f *xds.FakeDiscoveryServer, p *model.Proxy, sim *simulation.Simulation, c Claim) *Outcome {
	out := &Outcome{}
	if c.Call == nil || c.Expect == nil {
		out.Problems = []string{"a call claim needs call and expect"}
		return out
	}
	tls := simulation.Plaintext
	if c.Call.TLS == "mtls" {
		tls = simulation.MTLS
	}
	protocol := simulation.HTTP
	if c.Call.Protocol == "tcp" {
		protocol = simulation.TCP
	}
	r := sim.Run(simulation.Call{
		Port:       c.Call.Port,
		Path:       c.Call.Path,
		HostHeader: c.Call.Host,
		Protocol:   protocol,
		TLS:        tls,
		CallMode:   simulation.CallMode(c.Call.Mode),
	})
	got := ""
	if r.Error != nil {
		got = r.Error.Error()
	}
	out.Actual = map[string]any{
		"error": got, "listener": r.ListenerMatched, "filterChain": r.FilterChainMatched,
		"routeConfig": r.RouteConfigMatched, "virtualHost": r.VirtualHostMatched, "route": r.RouteMatched,
		"cluster": r.ClusterMatched,
	}
	if got != c.Expect.Error {
		out.Problems = append(out.Problems, fmt.Sprintf("want error %q, got %q (listener %q, chain %q)",
			c.Expect.Error, got, r.ListenerMatched, r.FilterChainMatched))
	}
	if c.Expect.Cluster != r.ClusterMatched {
		out.Problems = append(out.Problems, fmt.Sprintf("want cluster %q, got %q", c.Expect.Cluster, r.ClusterMatched))
	}
	if c.Expect.Cluster != "" && c.Call.Mode != "inbound" {
		if eps := endpointsOf(f, p, c.Expect.Cluster); len(eps) == 0 {
			out.Problems = append(out.Problems, fmt.Sprintf("cluster %q has no endpoints", c.Expect.Cluster))
		}
	}
	return out
}

func checkRoutes(sim *simulation.Simulation, c Claim) *Outcome {
	out := &Outcome{}
	var found []any
	var where string
	for _, rc := range sim.Routes {
		for _, vh := range rc.GetVirtualHosts() {
			for _, d := range vh.GetDomains() {
				if d == c.Domain {
					where = rc.GetName() + "/" + vh.GetName()
					for _, r := range vh.GetRoutes() {
						found = append(found, asJSON(r))
					}
				}
			}
		}
	}
	out.Actual = map[string]any{"virtualHost": where, "routes": found}
	if where == "" {
		out.Problems = []string{fmt.Sprintf("no virtual host has the domain %q", c.Domain)}
		return out
	}
	want := make([]any, len(c.Routes))
	for i, r := range c.Routes {
		want[i] = r
	}
	out.Problems = append(out.Problems, contains(found, want, where)...)
	for i, r := range found {
		for _, path := range c.Absent {
			if v, ok := lookup(r, path); ok {
				out.Problems = append(out.Problems, fmt.Sprintf("%s route %d has %s = %v", where, i, path, compact(v)))
			}
		}
	}
	return out
}

func checkCluster(f *xds.FakeDiscoveryServer, p *model.Proxy, sim *simulation.Simulation, c Claim) *Outcome {
	out := &Outcome{}
	cl := xdstest.ExtractCluster(c.Cluster, sim.Clusters)
	if cl == nil {
		out.Problems = []string{fmt.Sprintf("no cluster %q", c.Cluster)}
		return out
	}
	got := asJSON(cl)
	eps := endpointsOf(f, p, c.Cluster)
	out.Actual = map[string]any{"cluster": got, "endpoints": eps}
	if c.Contains != nil {
		out.Problems = append(out.Problems, contains(got, c.Contains, c.Cluster)...)
	}
	if c.Endpoints != nil && compact(eps) != compact(sortedCopy(c.Endpoints)) {
		out.Problems = append(out.Problems, fmt.Sprintf("%s: want endpoints %v, got %v", c.Cluster,
			sortedCopy(c.Endpoints), eps))
	}
	return out
}

const (
	httpRBAC    = "envoy.filters.http.rbac"
	networkRBAC = "envoy.filters.network.rbac"
)

// rbacAllows evaluates one RBAC filter for a caller with identity `id` (a SPIFFE principal) making
// any request: the filter lets it in when some ALLOW policy matches both the caller and the request.
// Only the matchers Istio uses for the lab's policies are understood; anything else is an error.
func rbacAllows(config any, id string) (bool, error) {
	rules, ok := lookup(config, "rules")
	if !ok {
		return true, nil // no rules: the filter enforces nothing
	}
	if action, ok := lookup(rules, "action"); ok && action != "ALLOW" {
		return false, fmt.Errorf("RBAC action %v is not modelled", action)
	}
	policies, _ := lookup(rules, "policies")
	pm, _ := policies.(map[string]any)
	for _, policy := range pm {
		principals, _ := lookup(policy, "principals")
		who, err := anyMatches(principals, id, matchPrincipal)
		if err != nil || !who {
			if err != nil {
				return false, err
			}
			continue
		}
		permissions, _ := lookup(policy, "permissions")
		what, err := anyMatches(permissions, id, matchPermission)
		if err != nil {
			return false, err
		}
		if what {
			return true, nil
		}
	}
	return false, nil
}

type matcher func(m map[string]any, id string) (bool, error)

func anyMatches(list any, id string, match matcher) (bool, error) {
	items, _ := list.([]any)
	for _, item := range items {
		m, _ := item.(map[string]any)
		ok, err := match(m, id)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

func allMatch(list any, id string, match matcher) (bool, error) {
	items, _ := list.([]any)
	for _, item := range items {
		m, _ := item.(map[string]any)
		ok, err := match(m, id)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func matchPrincipal(m map[string]any, id string) (bool, error) {
	if m["any"] == true {
		return true, nil
	}
	if inner, ok := m["notId"].(map[string]any); ok {
		got, err := matchPrincipal(inner, id)
		return !got && err == nil, err
	}
	if ids, ok := lookup(m, "andIds/ids"); ok {
		return allMatch(ids, id, matchPrincipal)
	}
	if ids, ok := lookup(m, "orIds/ids"); ok {
		return anyMatches(ids, id, matchPrincipal)
	}
	if exact, ok := lookup(m, "authenticated/principalName/exact"); ok {
		return exact == id, nil
	}
	return false, fmt.Errorf("principal matcher %s is not modelled", compact(m))
}

func matchPermission(m map[string]any, id string) (bool, error) {
	if m["any"] == true {
		return true, nil
	}
	if inner, ok := m["notRule"].(map[string]any); ok {
		got, err := matchPermission(inner, id)
		return !got && err == nil, err
	}
	if rules, ok := lookup(m, "andRules/rules"); ok {
		return allMatch(rules, id, matchPermission)
	}
	if rules, ok := lookup(m, "orRules/rules"); ok {
		return anyMatches(rules, id, matchPermission)
	}
	return false, fmt.Errorf("permission %s depends on the request; not modelled", compact(m))
}

// chainRBAC returns the RBAC filters of one filter chain (network and HTTP), as JSON.
func chainRBAC(fc *listener.FilterChain, problems *[]string) []any {
	var configs []any
	for _, filter := range fc.GetFilters() {
		if filter.GetName() == networkRBAC {
			configs = append(configs, asJSON(filter.GetTypedConfig()))
		}
		if filter.GetName() == "envoy.filters.network.http_connection_manager" {
			m := &hcm.HttpConnectionManager{}
			if err := filter.GetTypedConfig().UnmarshalTo(m); err != nil {
				*problems = append(*problems, err.Error())
				continue
			}
			for _, hf := range m.GetHttpFilters() {
				if hf.GetName() == httpRBAC {
					configs = append(configs, asJSON(hf.GetTypedConfig()))
				}
			}
		}
	}
	return configs
}

// checkRBAC reads the sidecar's inbound listener, or every listener of a gateway, and asks, for
// each candidate identity, whether every filter chain lets it in. A chain without an RBAC filter
// lets everyone in; virtualInbound-blackhole is left out: it only drops traffic sent to 15006 itself.
func checkRBAC(p *model.Proxy, sim *simulation.Simulation, c Claim) *Outcome {
	out := &Outcome{}
	listeners := sim.Listeners
	if p.Type != model.Router {
		l := xdstest.ExtractListener("virtualInbound", sim.Listeners)
		if l == nil {
			out.Problems = []string{"no virtualInbound listener"}
			return out
		}
		listeners = []*listener.Listener{l}
	}
	perChain := map[string][]string{}
	filters := map[string][]any{}
	union := map[string]bool{}
	for _, l := range listeners {
		for _, fc := range l.GetFilterChains() {
			if fc.GetName() == "virtualInbound-blackhole" {
				continue
			}
			name := l.GetName() + "/" + fc.GetName()
			configs := chainRBAC(fc, &out.Problems)
			filters[name] = configs
			perChain[name] = []string{}
			for _, id := range c.Candidates {
				allowed := true
				for _, config := range configs {
					ok, err := rbacAllows(config, id)
					if err != nil {
						out.Problems = append(out.Problems, name+": "+err.Error())
					}
					allowed = allowed && ok
				}
				if allowed {
					perChain[name] = append(perChain[name], id)
					union[id] = true
				}
			}
		}
	}
	allowed := make([]string, 0, len(union))
	for id := range union {
		allowed = append(allowed, id)
	}
	sort.Strings(allowed)
	out.Actual = map[string]any{"allowed": allowed, "chains": perChain, "filters": filters}
	if want := sortedCopy(c.Principals); strings.Join(allowed, " ") != strings.Join(want, " ") {
		out.Problems = append(out.Problems, fmt.Sprintf("inbound RBAC lets in %v, want exactly %v", allowed, want))
	}
	for _, d := range c.Denied {
		if union[d] {
			out.Problems = append(out.Problems, fmt.Sprintf("inbound RBAC lets %s in", d))
		}
	}
	return out
}
