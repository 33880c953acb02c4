package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"sigs.k8s.io/yaml"
)

// Output formats of `raypilot plan`.
const (
	planFormatText = "text"
	planFormatJSON = "json"
	planFormatYAML = "yaml"
)

// writePlan prints out in format (text, json or yaml).
func writePlan(w io.Writer, out planOutput, format string) error {
	switch format {
	case planFormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // keep the reasons' ">" readable
		return enc.Encode(out)
	case planFormatYAML:
		data, err := yaml.Marshal(out)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	default:
		return writePlanText(w, out)
	}
}

// writePlanText prints the plan for people: the cluster and whether the
// scaler acts on it, a table of the worker groups, then the demand, the
// idle workers, the terminations, what is infeasible, the decisions and
// the notes.
func writePlanText(w io.Writer, out planOutput) error {
	var b strings.Builder
	if c := out.Cluster; c != nil {
		ray := c.RayVersion
		if ray == "" {
			ray = "unknown"
		}
		fmt.Fprintf(&b, "RayCluster %s/%s: Ray %s, GCS read through %s\n", c.Namespace, c.Name, ray, c.GCS)
		fmt.Fprintf(&b, "Ray credential: %s\n", c.Auth)
		if c.ScalerActs {
			b.WriteString("The scaler acts on this cluster: this is the decision of its next round.\n")
		} else {
			b.WriteString("The scaler leaves this cluster alone now; this is what it would decide once it acts:\n")
			for _, why := range c.LeftAlone {
				fmt.Fprintf(&b, "  - %s\n", why)
			}
		}
		b.WriteString("\n")
	}
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tREPLICAS\tMIN\tMAX\tDESIRED\tPODS\tLAUNCH\tTERMINATE")
	for _, g := range out.Groups {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%d\t%d\t%d\n", g.Name, g.Replicas, g.Min, planMax(g.Max), g.Desired, g.Pods, g.Launch, g.Terminate)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(&b, "\nPending demand: %s\n", planDemandText(out.Pending))
	b.WriteString("Idle workers:")
	if len(out.Idle) == 0 {
		b.WriteString(" none\n")
	} else {
		b.WriteString("\n")
		for _, n := range out.Idle {
			what := "keep"
			if n.Drain {
				what = "drain"
			}
			name := n.Pod
			if name == "" {
				name = "node " + n.Node
			}
			fmt.Fprintf(&b, "  %s %s (%s): %s\n", what, name, n.Group, n.Why)
		}
	}
	b.WriteString("Terminate:")
	if len(out.Terminate) == 0 && len(out.UnnamedTerminations) == 0 {
		b.WriteString(" none\n")
	} else {
		b.WriteString("\n")
		for _, t := range out.Terminate {
			fmt.Fprintf(&b, "  %s (%s) %s: %s\n", t.Pod, t.Group, t.Cause, t.Reason)
		}
		for _, g := range slices.Sorted(maps.Keys(out.UnnamedTerminations)) {
			fmt.Fprintf(&b, "  %s of %s, not named\n", planPlural(out.UnnamedTerminations[g], "pod"), g)
		}
	}
	fmt.Fprintf(&b, "Infeasible: %s\n", planDemandText(out.Infeasible))
	for _, section := range []struct {
		title string
		lines []string
	}{{"Decisions", out.Decisions}, {"Notes", out.Notes}} {
		if len(section.lines) == 0 {
			continue
		}
		fmt.Fprintf(&b, "%s:\n", section.title)
		for _, l := range section.lines {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// planMax is a maxReplicas; KubeRay's default (none given) is unbounded.
func planMax(n int) string {
	if n >= math.MaxInt32 {
		return "none"
	}
	return strconv.Itoa(n)
}

// planDemandText is demand in one line: "3 × {CPU: 1}, 1 placement group".
func planDemandText(d planDemand) string {
	var parts []string
	for _, r := range d.Requests {
		parts = append(parts, fmt.Sprintf("%d × %s", r.Count, planShape(r.Resources)))
	}
	if d.Gangs > 0 {
		parts = append(parts, planPlural(d.Gangs, "placement group"))
	}
	if d.Constraints > 0 {
		parts = append(parts, planPlural(d.Constraints, "request_resources constraint"))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// planShape is a resource bundle, keys sorted: "{CPU: 1, memory: 1e+09}".
func planShape(m map[string]float64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s: %g", k, m[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
