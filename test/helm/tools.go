//go:build tools

// Package tools pins the helm binary the chart tests build from
// helm.sh/helm/v3. It lives apart from test/kube because helm pins its own
// k8s.io module versions.
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
