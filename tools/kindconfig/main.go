// Command kindconfig checks kind cluster configuration files with kind's own Go types.
//
// It decodes each file as kind v0.33.0 does (go.yaml.in/yaml/v3 with KnownFields, into the public
// sigs.k8s.io/kind/pkg/apis/config/v1alpha4.Cluster), so a misspelled or misplaced field is refused
// with its line. kind's semantic validation lives in an internal package that cannot be imported, so
// the checks that matter for this lab are repeated here: node roles, port ranges and host ports used
// twice (kind's types refuse an unknown protocol while decoding).
//
// Usage: kindconfig FILE...; prints "ok FILE" or one line per problem, and exits 1 on any problem.
package main

import (
	"bytes"
	"fmt"
	"os"

	yaml "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
)

type typeMeta struct {
	Kind       string `yaml:"kind"`
	APIVersion string `yaml:"apiVersion"`
}

func check(path string) []string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return []string{err.Error()}
	}
	var meta typeMeta
	if err := yaml.Unmarshal(raw, &meta); err != nil {
		return []string{fmt.Sprintf("cannot read kind and apiVersion: %v", err)}
	}
	if meta.APIVersion != "kind.x-k8s.io/v1alpha4" || meta.Kind != "Cluster" {
		return []string{fmt.Sprintf("expected apiVersion kind.x-k8s.io/v1alpha4 and kind Cluster, got %q %q",
			meta.APIVersion, meta.Kind)}
	}
	var cluster v1alpha4.Cluster
	decoder := yaml.NewDecoder(bytes.NewReader(raw))
	decoder.KnownFields(true)
	if err := decoder.Decode(&cluster); err != nil {
		return []string{fmt.Sprintf("not a kind v1alpha4 Cluster: %v", err)}
	}
	var problems []string
	used := map[string]int{}
	for i, node := range cluster.Nodes {
		if node.Role != v1alpha4.ControlPlaneRole && node.Role != v1alpha4.WorkerRole {
			problems = append(problems, fmt.Sprintf("nodes[%d].role: %q is neither %q nor %q", i, node.Role,
				v1alpha4.ControlPlaneRole, v1alpha4.WorkerRole))
		}
		for j, mapping := range node.ExtraPortMappings {
			where := fmt.Sprintf("nodes[%d].extraPortMappings[%d]", i, j)
			if mapping.ContainerPort < 1 || mapping.ContainerPort > 65535 {
				problems = append(problems, fmt.Sprintf("%s.containerPort: %d is not a port", where, mapping.ContainerPort))
			}
			if mapping.HostPort < -1 || mapping.HostPort > 65535 {
				problems = append(problems, fmt.Sprintf("%s.hostPort: %d is not a port", where, mapping.HostPort))
			}
			if mapping.HostPort > 0 {
				key := fmt.Sprintf("%s:%d/%s", mapping.ListenAddress, mapping.HostPort, mapping.Protocol)
				used[key]++
				if used[key] == 2 {
					problems = append(problems, fmt.Sprintf("%s.hostPort: %s is mapped twice", where, key))
				}
			}
		}
	}
	return problems
}

func main() {
	failed := false
	for _, path := range os.Args[1:] {
		problems := check(path)
		for _, problem := range problems {
			fmt.Printf("%s: %s\n", path, problem)
		}
		if len(problems) == 0 {
			fmt.Printf("ok %s\n", path)
		} else {
			failed = true
		}
	}
	if failed || len(os.Args) < 2 {
		os.Exit(1)
	}
}
