// Command chartcheck checks rendered chart objects with Kubernetes' own Go code, so the chart
// tests need no cluster:
//
//	chartcheck conditions  evaluates a webhook's matchConditions as kube-apiserver does
//	chartcheck decode      strictly decodes objects into the typed Kubernetes API (unknown or
//	                       duplicate fields, wrong types and bad quantities are errors)
//
// Input is JSON on stdin, output JSON on stdout; see conditions.go and decode.go.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// scheme holds every built-in kind the chart renders or the webhook admits.
var scheme = runtime.NewScheme()

func init() {
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, policyv1.AddToScheme,
		networkingv1.AddToScheme, admissionregistrationv1.AddToScheme, rbacv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
}

func main() {
	commands := map[string]func() (any, error){"conditions": runConditions, "decode": runDecode}
	if len(os.Args) != 2 || commands[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: chartcheck conditions|decode < input.json")
		os.Exit(2)
	}
	out, err := commands[os.Args[1]]()
	if err == nil {
		err = json.NewEncoder(os.Stdout).Encode(out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chartcheck:", err)
		os.Exit(2)
	}
}
