//go:build tools

// Package kubernetes only records, for `go mod tidy`, which commands this module builds.
// The build tag keeps it out of every real build; scripts/local_cluster.py runs
// `go build` on these package paths directly.
package kubernetes

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
