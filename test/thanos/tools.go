//go:build tools

// Package tools pins the scale-out PromQL layer the tests build: the one
// `thanos` binary (sidecar, query) from github.com/thanos-io/thanos.
package tools

import (
	_ "github.com/thanos-io/thanos/cmd/thanos"
)
