package yamlguard

import (
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Value returns the checked document as sigs.k8s.io/yaml's YAMLToJSON
// would give it, decoded with json.Number for numbers (map[string]any,
// []any, string, json.Number, bool, nil), from the nodes Check already
// parsed: one parse instead of two. Plain scalars are resolved as the
// YAML 1.1 decoder under YAMLToJSON (go.yaml.in/yaml/v2) resolves them.
// ok is false when the document uses what only that decoder handles
// exactly (aliases, merge keys, tags or any '!', keys that are not
// strings, numbers JSON cannot hold): convert it with YAMLToJSON then.
// FuzzValue checks the two agree.
func (r Report) Value() (v any, ok bool) {
	if r.top == nil {
		return nil, true
	}
	if r.bang {
		return nil, false
	}
	return value(r.top)
}

func value(n *yaml.Node) (any, bool) {
	switch n.Kind {
	case yaml.ScalarNode:
		return scalar(n)
	case yaml.SequenceNode:
		if n.Style&yaml.TaggedStyle != 0 {
			return nil, false
		}
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, ok := value(c)
			if !ok {
				return nil, false
			}
			out = append(out, v)
		}
		return out, true
	case yaml.MappingNode:
		if n.Style&yaml.TaggedStyle != 0 {
			return nil, false
		}
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, ok := scalar(n.Content[i])
			key, isString := k.(string)
			if !ok || !isString || n.Content[i].Kind != yaml.ScalarNode || (key == "<<" && n.Content[i].Style == 0) {
				return nil, false
			}
			v, ok := value(n.Content[i+1])
			if !ok {
				return nil, false
			}
			out[key] = v
		}
		return out, true
	}
	return nil, false // aliases, empty documents
}

// scalar resolves a scalar node: quoted and block scalars are strings,
// plain ones resolve as go.yaml.in/yaml/v2's resolve does with no tag.
func scalar(n *yaml.Node) (any, bool) {
	if n.Kind != yaml.ScalarNode || n.Style&yaml.TaggedStyle != 0 {
		return nil, false
	}
	if n.Style != 0 {
		return n.Value, true // quoted, literal or folded
	}
	return resolvePlain(n.Value)
}

var yaml11 = map[string]any{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true,
	"true": true, "True": true, "TRUE": true, "on": true, "On": true, "ON": true,
	"n": false, "N": false, "no": false, "No": false, "NO": false,
	"false": false, "False": false, "FALSE": false, "off": false, "Off": false, "OFF": false,
	"": nil, "~": nil, "null": nil, "Null": nil, "NULL": nil,
}

var yamlStyleFloat = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

// resolvePlain is go.yaml.in/yaml/v2's resolve("", in), with the result as
// JSON would carry it; ok is false for NaN and infinities (Check refuses
// them) and for "<<".
func resolvePlain(in string) (any, bool) {
	if v, ok := yaml11[in]; ok {
		return v, true
	}
	if in == "" {
		return nil, true
	}
	switch c := in[0]; {
	case c == '.':
		switch in {
		case ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF":
			return nil, false
		}
		if f, err := strconv.ParseFloat(in, 64); err == nil {
			return floatNumber(f)
		}
	case c == '+' || c == '-' || (c >= '0' && c <= '9'):
		switch in {
		case "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF":
			return nil, false
		}
		if looksLikeTimestamp(in) {
			return in, true // v2 keeps timestamps as strings in interface{}
		}
		plain := strings.ReplaceAll(in, "_", "")
		if i, err := strconv.ParseInt(plain, 0, 64); err == nil {
			return json.Number(strconv.FormatInt(i, 10)), true
		}
		if u, err := strconv.ParseUint(plain, 0, 64); err == nil {
			return json.Number(strconv.FormatUint(u, 10)), true
		}
		if yamlStyleFloat.MatchString(plain) {
			if f, err := strconv.ParseFloat(plain, 64); err == nil {
				return floatNumber(f)
			}
		}
		if strings.HasPrefix(plain, "0b") {
			if i, err := strconv.ParseInt(plain[2:], 2, 64); err == nil {
				return json.Number(strconv.FormatInt(i, 10)), true
			}
			if u, err := strconv.ParseUint(plain[2:], 2, 64); err == nil {
				return json.Number(strconv.FormatUint(u, 10)), true
			}
		} else if strings.HasPrefix(plain, "-0b") {
			if i, err := strconv.ParseInt("-"+plain[3:], 2, 64); err == nil {
				return json.Number(strconv.FormatInt(i, 10)), true
			}
		}
	}
	return in, true
}

// floatNumber is f as encoding/json writes it.
func floatNumber(f float64) (any, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, false
	}
	b, err := json.Marshal(f)
	if err != nil {
		return nil, false
	}
	return json.Number(b), true
}

// looksLikeTimestamp reports whether v2 would resolve in as a timestamp
// (its parseTimestamp): digits, then a dash, in the first five bytes, and
// one of its layouts parses.
func looksLikeTimestamp(in string) bool {
	i := 0
	for ; i < len(in); i++ {
		if c := in[i]; c < '0' || c > '9' {
			break
		}
	}
	if i != 4 || i == len(in) || in[i] != '-' {
		return false
	}
	for _, layout := range timestampLayouts {
		if _, err := time.Parse(layout, in); err == nil {
			return true
		}
	}
	return false
}

// timestampLayouts are v2's allowedTimestampFormats.
var timestampLayouts = []string{
	"2006-1-2T15:4:5.999999999Z07:00",
	"2006-1-2t15:4:5.999999999Z07:00",
	"2006-1-2 15:4:5.999999999",
	"2006-1-2",
}
