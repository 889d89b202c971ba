//go:build tools

// Package tools records, for `go mod tidy`, the commands this module builds.
package tools

import _ "istio.io/istio/istioctl/cmd/istioctl"
