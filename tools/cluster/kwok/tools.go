//go:build tools

// Package kwok only records, for `go mod tidy`, that this module builds sigs.k8s.io/kwok/cmd/kwok.
package kwok

import _ "sigs.k8s.io/kwok/cmd/kwok"
