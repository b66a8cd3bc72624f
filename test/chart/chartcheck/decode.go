package main

// chartcheck decode: strict decoding of rendered objects into the typed Kubernetes API, the
// same decoding kube-apiserver applies with fieldValidation=Strict (unknown and duplicate
// fields are errors). Kinds outside the built-in API (cert-manager, Prometheus Operator) are
// reported as not checked.
//
// stdin:  [object, ...]  (Kubernetes JSON)
// stdout: [{"kind", "name", "checked", "error"}, ...]

import (
	"encoding/json"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
)

type decodeResult struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Checked bool   `json:"checked"`
	Error   string `json:"error,omitempty"`
}

func runDecode() (any, error) {
	var objects []json.RawMessage
	if err := json.NewDecoder(os.Stdin).Decode(&objects); err != nil {
		return nil, fmt.Errorf("reading stdin: %w", err)
	}
	strict := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	results := []decodeResult{}
	for _, raw := range objects {
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(raw, &meta); err != nil {
			return nil, err
		}
		res := decodeResult{Kind: meta.Kind, Name: meta.Metadata.Name}
		_, _, err := strict.Decode(raw, nil, nil)
		switch {
		case runtime.IsNotRegisteredError(err):
			// Not a built-in kind: left to the CRD's own schema (e2e, real clusters).
		case err != nil:
			res.Checked, res.Error = true, err.Error()
		default:
			res.Checked = true
		}
		results = append(results, res)
	}
	return results, nil
}
