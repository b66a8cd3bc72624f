package main

// chartcheck conditions: the API server's matchConditions machinery (k8s.io/apiserver's CEL
// condition compiler and webhook matcher, failurePolicy Fail) run on test requests.
//
// stdin:  {"conditions": [{"name", "expression"}], "cases": [{"name", "operation", "resource",
//          "subResource", "object", "oldObject"}]}  (objects: Kubernetes JSON with apiVersion
//          and kind; null for none)
// stdout: {"compileErrors": [...], "results": [{"name", "matches", "error"}]}

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions"
	"k8s.io/apiserver/pkg/cel/environment"
)

type condition struct {
	Name       string `json:"name"`
	Expression string `json:"expression"`
}

type conditionCase struct {
	Name        string          `json:"name"`
	Operation   string          `json:"operation"`
	Resource    string          `json:"resource"`
	SubResource string          `json:"subResource"`
	Object      json.RawMessage `json:"object"`
	OldObject   json.RawMessage `json:"oldObject"`
}

type conditionResult struct {
	Name    string `json:"name"`
	Matches bool   `json:"matches"`
	Error   string `json:"error,omitempty"`
}

type conditionsOutput struct {
	CompileErrors []string          `json:"compileErrors"`
	Results       []conditionResult `json:"results"`
}

// decodeTyped turns Kubernetes JSON into the typed object the API server holds; nil for null.
func decodeTyped(raw json.RawMessage) (runtime.Object, *schema.GroupVersionKind, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil, nil
	}
	obj, gvk, err := serializer.NewCodecFactory(scheme).UniversalDeserializer().Decode(raw, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	obj.GetObjectKind().SetGroupVersionKind(*gvk)
	return obj, gvk, nil
}

func evaluateCase(matcher matchconditions.Matcher, c conditionCase) conditionResult {
	obj, gvk, err := decodeTyped(c.Object)
	if err != nil {
		return conditionResult{Name: c.Name, Error: "object: " + err.Error()}
	}
	oldObj, oldGVK, err := decodeTyped(c.OldObject)
	if err != nil {
		return conditionResult{Name: c.Name, Error: "oldObject: " + err.Error()}
	}
	if gvk == nil {
		gvk = oldGVK
	}
	if gvk == nil {
		return conditionResult{Name: c.Name, Error: "case has neither object nor oldObject"}
	}
	gvr := gvk.GroupVersion().WithResource(c.Resource)
	attrs := admission.NewAttributesRecord(obj, oldObj, *gvk, "team-a", "probe", gvr, c.SubResource,
		admission.Operation(c.Operation), nil, false, nil)
	versioned, err := admission.NewVersionedAttributes(attrs, *gvk, nil)
	if err != nil {
		return conditionResult{Name: c.Name, Error: err.Error()}
	}
	res := matcher.Match(context.Background(), versioned, nil, nil)
	out := conditionResult{Name: c.Name, Matches: res.Matches}
	if res.Error != nil {
		out.Error = res.Error.Error()
	}
	return out
}

func runConditions() (any, error) {
	var in struct {
		Conditions []condition      `json:"conditions"`
		Cases      []conditionCase `json:"cases"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		return nil, fmt.Errorf("reading stdin: %w", err)
	}
	accessors := make([]cel.ExpressionAccessor, len(in.Conditions))
	for i, c := range in.Conditions {
		accessors[i] = &matchconditions.MatchCondition{Name: c.Name, Expression: c.Expression}
	}
	// Compiled as the webhook dispatcher does (generic/webhook.go, accessors.go), in the
	// environment the API server uses when a configuration is created or changed.
	compiler := cel.NewConditionCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
	evaluator := compiler.CompileCondition(accessors, cel.OptionalVariableDeclarations{HasAuthorizer: true}, environment.NewExpressions)
	out := conditionsOutput{CompileErrors: []string{}, Results: []conditionResult{}}
	for _, err := range evaluator.CompilationErrors() {
		out.CompileErrors = append(out.CompileErrors, err.Error())
	}
	if len(out.CompileErrors) == 0 {
		fail := admissionregistrationv1.Fail
		matcher := matchconditions.NewMatcher(evaluator, &fail, "webhook", "validating", "chart-test")
		for _, c := range in.Cases {
			out.Results = append(out.Results, evaluateCase(matcher, c))
		}
	}
	return out, nil
}
