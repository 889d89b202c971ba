//go:build tools

// Package etcd only records, for `go mod tidy`, that this module builds the etcd server command.
package etcd

import _ "go.etcd.io/etcd/server/v3"
