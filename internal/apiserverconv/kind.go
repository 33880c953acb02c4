package apiserverconv

import (
	"fmt"
	"slices"
	"strings"
)

// topFields are the top-level fields of each request kind.
func topFields(k Kind) []fieldSpec {
	switch k {
	case KindComputeTemplate:
		return (&computeTemplateReq{}).fields()
	case KindCluster:
		return (&clusterReq{}).fields()
	case KindRayJob:
		return (&rayJobReq{}).fields()
	case KindRayService:
		return (&rayServiceReq{}).fields()
	}
	return nil
}

func knows(fields []fieldSpec, key string) bool {
	return slices.ContainsFunc(fields, func(f fieldSpec) bool { return f.named(key) })
}

// detectKind tells a request's kind from its fields, as the URL it was
// posted to did: the one kind with a field only it has (cpu: a
// ComputeTemplate, entrypoint: a RayJob, serveConfigV2: a RayService,
// envs: a Cluster); else a request with clusterSpec is a Cluster; else
// the kind knowing the most of its fields, whose reader then names the
// others.
func detectKind(o *jsonObject) (Kind, error) {
	fields := map[Kind][]fieldSpec{}
	for _, k := range kinds {
		fields[k] = topFields(k)
	}
	only := func(k Kind, key string) bool {
		for _, other := range kinds {
			if other != k && knows(fields[other], key) {
				return false
			}
		}
		return knows(fields[k], key)
	}
	var all []Kind // kinds knowing every field
	best, bestKnown, tie := Kind(""), -1, false
	for _, k := range kinds {
		known := 0
		for _, key := range o.keys {
			if knows(fields[k], key) {
				known++
			}
		}
		if known == len(o.keys) {
			all = append(all, k)
		}
		switch {
		case known > bestKnown:
			best, bestKnown, tie = k, known, false
		case known == bestKnown:
			tie = true
		}
	}
	for _, k := range all {
		for _, key := range o.keys {
			if only(k, key) {
				return k, nil
			}
		}
	}
	if slices.Contains(all, KindCluster) && (slices.Contains(o.keys, "clusterSpec") || slices.Contains(o.keys, "cluster_spec")) {
		return KindCluster, nil
	}
	if len(all) == 1 {
		return all[0], nil
	}
	if len(all) == 0 && !tie {
		return best, nil
	}
	if len(o.keys) == 0 {
		return "", fmt.Errorf("an empty object is no request")
	}
	if bestKnown == 0 {
		return "", fmt.Errorf("none of its fields (%s) is a field of a %s request; is it a request body?",
			strings.Join(o.keys, ", "), strings.Join(kindNames(), ", "))
	}
	fits := all
	if len(fits) == 0 {
		fits = kinds
	}
	names := make([]string, len(fits))
	for i, k := range fits {
		names[i] = string(k)
	}
	return "", fmt.Errorf("cannot tell the kind of request from its fields (%s): it may be a %s; pass --kind",
		strings.Join(o.keys, ", "), strings.Join(names, " or "))
}
