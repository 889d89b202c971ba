// The kind config checker (main.go): kind's own types, pinned to the kind version docs/laptop.md names.
module sockshop-mesh-handbook/tools/kindconfig

go 1.22

require (
	go.yaml.in/yaml/v3 v3.0.4
	sigs.k8s.io/kind v0.33.0
)

require github.com/pkg/errors v0.9.1 // indirect
