package meshtest

import (
	"encoding/json"
	"os"
	"testing"

	"istio.io/istio/pkg/config/analysis/analyzers"
	"istio.io/istio/pkg/config/analysis/local"
	"istio.io/istio/pkg/config/resource"
)

// TestAnalyze runs every analyzer of `istioctl analyze` on files, offline, the way Istio's own
// analyzer tests do (AddTestReaderKubeSource): unlike `istioctl analyze --use-kube=false`, this
// also reads Pods and Namespaces from the files, so the analyzers that match selectors against
// pods (DestinationRule subsets, Gateway selectors, ...) run instead of being skipped.
//
//	MESHTEST_ANALYZE_FILES=objects.yaml MESHTEST_MESH_CONFIG=mesh.yaml MESHTEST_ISTIO_NAMESPACE=ns \
//	MESHTEST_REPORT=messages.json ./meshtest.test -test.run TestAnalyze
func TestAnalyze(t *testing.T) {
	input := os.Getenv("MESHTEST_ANALYZE_FILES")
	if input == "" {
		t.Skip("MESHTEST_ANALYZE_FILES is not set: run through tests/istio (pytest)")
	}
	istioNamespace := resource.Namespace("istio-system")
	if ns := os.Getenv("MESHTEST_ISTIO_NAMESPACE"); ns != "" {
		istioNamespace = resource.Namespace(ns)
	}
	sa := local.NewSourceAnalyzer(analyzers.AllCombined(), "", istioNamespace, nil)
	if mesh := os.Getenv("MESHTEST_MESH_CONFIG"); mesh != "" {
		if err := sa.AddFileKubeMeshConfig(mesh); err != nil {
			t.Fatalf("mesh config %s: %v", mesh, err)
		}
	}
	f, err := os.Open(input)
	if err != nil {
		t.Fatalf("%v", err)
	}
	defer f.Close()
	if err := sa.AddTestReaderKubeSource([]local.ReaderSource{{Name: input, Reader: f}}); err != nil {
		t.Fatalf("reading %s: %v", input, err)
	}
	if err := sa.AddDefaultResources(); err != nil {
		t.Fatalf("default resources: %v", err)
	}
	cancel := make(chan struct{})
	result, err := sa.Analyze(cancel)
	if err != nil {
		t.Fatalf("analyze: %v", err)
	}
	messages := make([]map[string]any, 0, len(result.Messages))
	for _, m := range result.Messages {
		messages = append(messages, m.Unstructured(true))
	}
	out := map[string]any{"messages": messages, "skipped": result.SkippedAnalyzers,
		"executed": result.ExecutedAnalyzers}
	raw, _ := json.MarshalIndent(out, "", " ")
	if path := os.Getenv("MESHTEST_REPORT"); path != "" {
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			t.Fatalf("%v", err)
		}
	}
}
