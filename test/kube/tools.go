//go:build tools

// Package tools pins the control-plane binaries the test bed builds:
// kube-apiserver and kubectl from k8s.io/kubernetes, etcd from its server module.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
