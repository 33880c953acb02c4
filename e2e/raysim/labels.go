package raysim

import (
	"fmt"
	"sort"
	"strings"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// labelConstraint is one key of a label selector.
type labelConstraint struct {
	key    string
	op     rpcpb.LabelSelectorOperator
	values []string // sorted
}

// labelSelector is a conjunction of constraints, sorted by key. The zero
// value selects every node.
type labelSelector []labelConstraint

// parseLabelSelector reads a selector the way Ray reads the label_selector
// of a task, an actor or a placement group bundle (a map of key to value
// expression): "v" is key in (v), "!v" key not in (v), "in(a,b)" key in
// (a, b), "!in(a,b)" key not in (a, b). Ray
// src/ray/common/scheduling/label_selector.cc, ParseLabelSelectorValue
// (commit 02df3e5d8e85b993ad9321f280795812820ee5b1); like Ray, the values
// between the parentheses are split on commas and not trimmed.
func parseLabelSelector(m map[string]string) (labelSelector, error) {
	if len(m) > maxSelectorKeys {
		return nil, fmt.Errorf("a label selector has at most %d keys", maxSelectorKeys)
	}
	var out labelSelector
	for key, expr := range m {
		if key == "" || len(key) > maxLabelLen || len(expr) > 4*maxLabelLen {
			return nil, fmt.Errorf("label selector key %q: keys are 1 to %d characters", key, maxLabelLen)
		}
		c := labelConstraint{key: key, op: rpcpb.LabelSelectorOperator_LABEL_OPERATOR_IN}
		val := expr
		if strings.HasPrefix(val, "!") {
			c.op = rpcpb.LabelSelectorOperator_LABEL_OPERATOR_NOT_IN
			val = val[1:]
		}
		if strings.HasPrefix(val, "in(") && strings.HasSuffix(val, ")") {
			inner := val[3 : len(val)-1]
			if inner != "" {
				c.values = strings.Split(inner, ",")
			}
		} else {
			c.values = []string{val}
		}
		sort.Strings(c.values)
		c.values = compactStrings(c.values)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out, nil
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// matches reports whether a node with labels satisfies every constraint:
// IN needs the key with one of the values, NOT_IN is met by a missing key
// or another value. Ray src/ray/common/scheduling/cluster_resource_data.cc,
// NodeResources::NodeLabelMatchesConstraint.
func (s labelSelector) matches(labels map[string]string) bool {
	for _, c := range s {
		v, ok := labels[c.key]
		in := ok && containsString(c.values, v)
		switch c.op {
		case rpcpb.LabelSelectorOperator_LABEL_OPERATOR_IN:
			if !in {
				return false
			}
		case rpcpb.LabelSelectorOperator_LABEL_OPERATOR_NOT_IN:
			if in {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func containsString(sorted []string, v string) bool {
	i := sort.SearchStrings(sorted, v)
	return i < len(sorted) && sorted[i] == v
}

// proto is the selector as ray.rpc.LabelSelector (LabelSelector::ToProto).
func (s labelSelector) proto() *rpcpb.LabelSelector {
	out := &rpcpb.LabelSelector{}
	for _, c := range s {
		out.LabelConstraints = append(out.LabelConstraints, &rpcpb.LabelSelectorConstraint{
			LabelKey: c.key, Operator: c.op, LabelValues: append([]string(nil), c.values...)})
	}
	return out
}

// key is a canonical text of the selector, to group equal demands.
func (s labelSelector) key() string {
	var b strings.Builder
	for _, c := range s {
		fmt.Fprintf(&b, "%q %d %q;", c.key, c.op, c.values)
	}
	return b.String()
}
