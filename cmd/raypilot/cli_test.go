package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap/zapcore"
)

// TestHelp: every command answers -h, --help and `raypilot help COMMAND`
// with exit 0 and, on stdout, its description, usage, an Examples section
// and its flags; a subcommand added without them fails here.
func TestHelp(t *testing.T) {
	commands := []string{"", "expand", "convert", "plan", "webhook", "scaler", "version", "help"}
	var tree []string
	for _, c := range newRootCommand().Commands() {
		tree = append(tree, c.Name())
	}
	for _, name := range tree {
		if !slices.Contains(commands, name) {
			t.Errorf("subcommand %q is not in this table", name)
		}
	}
	for _, name := range commands {
		path := strings.TrimSpace("raypilot " + name)
		for _, args := range [][]string{{name, "-h"}, {name, "--help"}, {"help", name}} {
			args = slices.DeleteFunc(args, func(a string) bool { return a == "" })
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				code, out, errOut := runCLI(t, "", args...)
				if code != 0 || errOut != "" {
					t.Fatalf("exit %d, stderr %q", code, errOut)
				}
				desc, usage, ok := strings.Cut(out, "\n\nUsage:\n  "+path)
				if !ok || strings.TrimSpace(desc) == "" {
					t.Fatalf("want a description, then Usage: %s ...:\n%s", path, out)
				}
				_, examples, ok := strings.Cut(usage, "\n\nExamples:\n")
				if !ok || !strings.HasPrefix(examples, "  ") || !strings.Contains(examples, "raypilot") {
					t.Errorf("no Examples section:\n%s", out)
				}
				if !strings.Contains(usage, "\n\nFlags:\n") || !strings.Contains(usage, "-h, --help") {
					t.Errorf("no Flags section:\n%s", out)
				}
			})
		}
	}
}

// TestVersion: --version, -v and `raypilot version` print the version alone.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-v"}, {"version"}} {
		code, out, errOut := runCLI(t, "", args...)
		if code != 0 || out != version+"\n" || errOut != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %q", args, code, out, errOut, version)
		}
	}
}

// TestUsageErrors: an unknown command or flag is exit 2, nothing on
// stdout, and on stderr one line naming the command and the problem and a
// hint where to look.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // the first line of stderr
	}{
		{nil, ""},
		{[]string{"frobnicate"}, `raypilot: unknown command "frobnicate"`},
		{[]string{"expnd"}, `raypilot: unknown command "expnd" (did you mean expand?)`},
		{[]string{"help", "frobnicate"}, `raypilot help: unknown help topic "frobnicate"`},
		{[]string{"version", "extra"}, `raypilot version: unknown command "extra" for "raypilot version"`},
		{[]string{"expand", "--frobnicate"}, "raypilot expand: unknown flag: --frobnicate"},
		{[]string{"expand", "-f", "-", "-o", "xml"}, `raypilot expand: invalid argument "xml" for "-o, --output" flag: want yaml or json`},
		{[]string{"plan", "-x"}, "raypilot plan: unknown shorthand flag: 'x' in -x"},
		{[]string{"webhook", "--frobnicate"}, "raypilot webhook: unknown flag: --frobnicate"},
		{[]string{"webhook", "--log-format", "xml"}, `raypilot webhook: invalid argument "xml" for "--log-format" flag: want json or console`},
		{[]string{"scaler", "--log-level", "trace"}, `raypilot scaler: invalid argument "trace" for "--log-level" flag: want debug, info, warn or error`},
		{[]string{"scaler", "extra"}, `raypilot scaler: unknown command "extra" for "raypilot scaler"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errOut := runCLI(t, "", tc.args...)
			if code != 2 || out != "" {
				t.Fatalf("exit %d, stdout %q; want 2 and nothing", code, out)
			}
			if tc.want == "" { // bare raypilot: its usage on stderr
				if !strings.HasPrefix(errOut, "Usage:") {
					t.Errorf("stderr %q", errOut)
				}
				return
			}
			lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
			if len(lines) != 2 || lines[0] != tc.want || !strings.HasPrefix(lines[1], "Run 'raypilot") || !strings.HasSuffix(lines[1], " --help' for usage.") {
				t.Errorf("stderr:\n%s\nwant:\n%s\nRun 'raypilot ... --help' for usage.", errOut, tc.want)
			}
		})
	}
}

// expandFixtures: a template in namespace team and a cluster that names
// no namespace, which only expands in namespace team.
const (
	teamCluster = "apiVersion: ray.io/v1\nkind: RayCluster\nmetadata: {name: a, annotations: {ray.io/compute-template: default-template}}\nspec: {rayVersion: \"2.9.0\", headGroupSpec: {template: {}}}\n"
	service     = "apiVersion: v1\nkind: Service\nmetadata: {name: svc-%s}\nspec: {ports: [{port: 80}]}\n"
)

// expandKinds runs expand and returns the kinds and names of the JSON
// output, in order.
func expandKinds(t *testing.T, stdin string, args ...string) []string {
	t.Helper()
	code, out, errOut := runCLI(t, stdin, append([]string{"expand"}, args...)...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errOut)
	}
	var list struct {
		Kind  string
		Items []struct {
			Kind     string
			Metadata struct{ Name, Namespace string }
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || list.Kind != "List" {
		t.Fatalf("%v: not a JSON List (%v):\n%s", args, err, out)
	}
	var got []string
	for _, it := range list.Items {
		got = append(got, it.Kind+"/"+it.Metadata.Name)
	}
	return got
}

// TestExpandKubectlFlags: -f/--filename repeats, reads stdin for -, and
// reads a directory's .yaml, .yml and .json files (those of subdirectories
// only with -R); -n/--namespace and -o/--output are kubectl's.
func TestExpandKubectlFlags(t *testing.T) {
	tmpl := writeFile(t, "template.yaml", template)
	for _, args := range [][]string{
		{"-f", tmpl, "-f", "-", "-n", "team", "-o", "json"},
		{"--filename", tmpl, "--filename=-", "--namespace", "team", "--output=json"},
		{"-f", "-", "-f", tmpl, "-nteam", "-ojson"},
	} {
		got := expandKinds(t, teamCluster, args...)
		if len(got) != 2 || !slices.Contains(got, "RayCluster/a") {
			t.Errorf("%v: %v", args, got)
		}
	}
	// Without -n the template is not visible: the stdin cluster was read.
	if code, _, errOut := runCLI(t, teamCluster, "expand", "-f", tmpl, "-f", "-"); code != 1 || !strings.Contains(errOut, `templates available in namespace "default": none`) {
		t.Errorf("-f - without -n: exit %d, %s", code, errOut)
	}

	dir := t.TempDir()
	for name, content := range map[string]string{
		"a-template.yaml":   template,
		"b-cluster.yml":     teamCluster,
		"c-service.json":    `{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc-c"}, "spec": {"ports": [{"port": 80}]}}`,
		"notes.txt":         "not a manifest: {",
		"sub/d.yaml":        strings.ReplaceAll(service, "%s", "d"),
		"sub/deeper/e.yaml": strings.ReplaceAll(service, "%s", "e"),
	} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	flat := []string{"ComputeTemplate/default-template", "RayCluster/a", "Service/svc-c"}
	if got := expandKinds(t, "", "-f", dir, "-n", "team", "-o", "json"); !slices.Equal(got, flat) {
		t.Errorf("-f DIR: %v, want %v", got, flat)
	}
	deep := append(slices.Clone(flat), "Service/svc-d", "Service/svc-e")
	for _, args := range [][]string{{"-R", "-f", dir}, {"--recursive", "--filename", dir}} {
		if got := expandKinds(t, "", append(args, "-n", "team", "-o", "json")...); !slices.Equal(got, deep) {
			t.Errorf("%v: %v, want %v", args, got, deep)
		}
	}
	// A directory and a file of it: read twice, as kubectl would.
	if got := expandKinds(t, "", "-f", filepath.Join(dir, "sub"), "-f", filepath.Join(dir, "sub", "d.yaml"), "-o", "json"); !slices.Equal(got, []string{"Service/svc-d", "Service/svc-d"}) {
		t.Errorf("-f DIR -f FILE: %v", got)
	}
	if code, out, errOut := runCLI(t, "", "expand", "-f", t.TempDir()); code != 2 || out != "" || !strings.Contains(errOut, "no .yaml, .yml or .json files") {
		t.Errorf("-f EMPTYDIR: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestDeprecatedAliases: the old flag names still parse, set the value of
// the new name, print pflag's deprecation warning on stderr (never on
// stdout) and are hidden from the help.
func TestDeprecatedAliases(t *testing.T) {
	for _, tc := range []struct {
		command   func() *cobra.Command
		args      []string
		old, name string
		want      string
	}{
		{newWebhookCommand, []string{"--leader-election"}, "leader-election", "leader-elect", "true"},
		{newWebhookCommand, []string{"--leader-election=true"}, "leader-election", "leader-elect", "true"},
		{newWebhookCommand, []string{"--leader-election-namespace", "certs"}, "leader-election-namespace", "leader-elect-resource-namespace", "certs"},
		{newWebhookCommand, []string{"--leader-election-id=writer"}, "leader-election-id", "leader-elect-resource-name", "writer"},
		{newWebhookCommand, []string{"--debug"}, "debug", "log-level", "debug"},
		{newScalerCommand, []string{"--leader-election-namespace=$(POD_NAMESPACE)"}, "leader-election-namespace", "leader-elect-resource-namespace", "$(POD_NAMESPACE)"},
		{newScalerCommand, []string{"--debug"}, "debug", "log-level", "debug"},
		{newPlanCommand, []string{"--raycluster", "rc.yaml"}, "raycluster", "filename", "rc.yaml"},
	} {
		cmd := tc.command()
		t.Run(cmd.Name()+" "+strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&errb)
			warnTo(cmd, &errb)
			if err := cmd.ParseFlags(tc.args); err != nil {
				t.Fatal(err)
			}
			if got := cmd.Flags().Lookup(tc.name).Value.String(); got != tc.want {
				t.Errorf("--%s is %q, want %q", tc.name, got, tc.want)
			}
			warning := "Flag --" + tc.old + " has been deprecated, use --" + tc.name
			if !strings.HasPrefix(errb.String(), warning) || out.Len() > 0 {
				t.Errorf("stderr %q, stdout %q; want the warning %q on stderr", errb.String(), out.String(), warning)
			}
			if strings.Contains(cmd.UsageString(), "--"+tc.old+" ") {
				t.Errorf("--%s is in the help", tc.old)
			}
		})
	}
	// Through a whole run: the warnings on stderr, then the startup error.
	code, out, errOut := runCLI(t, "", "scaler", "--leader-elect=true", "--leader-election-namespace=raypilot", "--debug", "--kubeconfig", filepath.Join(t.TempDir(), "absent"))
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if code != 1 || out != "" || len(lines) != 3 || !strings.Contains(lines[0], "--leader-election-namespace has been deprecated") ||
		!strings.Contains(lines[1], "--debug has been deprecated, use --log-level=debug") || !strings.HasPrefix(lines[2], "raypilot scaler: cannot load kubeconfig: ") {
		t.Errorf("exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	// --sharding excludes --leader-elect, and the error names both.
	code, out, errOut = runCLI(t, "", "scaler", "--sharding", "--leader-elect", "--kubeconfig", filepath.Join(t.TempDir(), "absent"))
	if code != 1 || out != "" || !strings.Contains(errOut, "--sharding and --leader-elect are mutually exclusive") {
		t.Errorf("--sharding --leader-elect: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	// The plan's alias reads the RayCluster as -f does.
	res := runPlanWarned(t, "--raycluster", planFixture("raycluster.yaml"), "--ray-state", planFixture("state-pending.json"))
	if res.Launch["small-wg"] != 1 {
		t.Errorf("plan --raycluster: launch %v", res.Launch)
	}
}

// runPlanWarned is runPlanOK for a command line with deprecated flags:
// stderr holds only their warnings.
func runPlanWarned(t *testing.T, args ...string) planResult {
	t.Helper()
	code, out, errOut := runCLI(t, "", append([]string{"plan"}, args...)...)
	for _, line := range strings.Split(strings.TrimSpace(errOut), "\n") {
		if !strings.Contains(line, "has been deprecated") {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
	}
	var res planResult
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	return res
}

// TestStartupErrors: webhook and scaler report a configuration they cannot
// start with as one readable line on stderr, not a JSON log with a stack
// trace; --context picks a context of the kubeconfig.
func TestStartupErrors(t *testing.T) {
	kc := writeKubeconfig(t)
	for _, cmd := range []string{"webhook", "scaler"} {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--kubeconfig", filepath.Join(t.TempDir(), "absent")}, "cannot load kubeconfig: stat "},
			{[]string{"--kubeconfig", kc, "--context", "nosuch"}, `cannot load kubeconfig: context "nosuch" does not exist`},
		} {
			code, out, errOut := runCLI(t, "", append([]string{cmd}, tc.args...)...)
			prefix := "raypilot " + cmd + ": " + tc.want
			if code != 1 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, prefix) {
				t.Errorf("%s %v: exit %d, stdout %q, stderr %q; want 1 and one line %q...", cmd, tc.args, code, out, errOut, prefix)
			}
		}
	}
}

// writeKubeconfig writes a kubeconfig with contexts a and b (current: a)
// for the servers https://a.example:6443 and https://b.example:6443.
func writeKubeconfig(t *testing.T) string {
	t.Helper()
	return writeFile(t, "kubeconfig", `apiVersion: v1
kind: Config
clusters:
- {name: a, cluster: {server: "https://a.example:6443"}}
- {name: b, cluster: {server: "https://b.example:6443"}}
users:
- {name: u, user: {token: t}}
contexts:
- {name: a, context: {cluster: a, user: u}}
- {name: b, context: {cluster: b, user: u}}
current-context: a
`)
}

// TestKubeFlags: --kubeconfig and --context choose the server as kubectl
// does, from the file named or from $KUBECONFIG, and the client limits
// apply either way.
func TestKubeFlags(t *testing.T) {
	kc := writeKubeconfig(t)
	t.Setenv("KUBECONFIG", kc)
	for _, tc := range []struct {
		args []string
		host string
	}{
		{[]string{"--kubeconfig", kc}, "https://a.example:6443"},
		{[]string{"--kubeconfig", kc, "--context", "b"}, "https://b.example:6443"},
		{[]string{"--context=b"}, "https://b.example:6443"},
		{nil, "https://a.example:6443"},
	} {
		var k kubeFlags
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		k.addTo(fs)
		if err := fs.Parse(append(tc.args, "--kube-api-qps=7", "--kube-api-burst=9")); err != nil {
			t.Fatal(err)
		}
		rc, err := k.restConfig()
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if rc.Host != tc.host || rc.QPS != 7 || rc.Burst != 9 {
			t.Errorf("%v: host %s, qps %v, burst %d; want %s, 7, 9", tc.args, rc.Host, rc.QPS, rc.Burst, tc.host)
		}
	}
}

// TestLogFlags: --log-format picks JSON or console lines, --log-level the
// lowest level written; the deprecated --debug is --log-level=debug.
func TestLogFlags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		json    bool
		lowest  zapcore.Level
		written []string
	}{
		{nil, true, zapcore.InfoLevel, []string{"info", "warn", "error"}},
		{[]string{"--log-format=console", "--log-level=warn"}, false, zapcore.WarnLevel, []string{"warn", "error"}},
		{[]string{"--log-level", "error"}, true, zapcore.ErrorLevel, []string{"error"}},
		{[]string{"--debug"}, true, zapcore.DebugLevel, []string{"debug", "info", "warn", "error"}},
		{[]string{"--log-format", "console", "--log-level", "debug"}, false, zapcore.DebugLevel, []string{"debug", "info", "warn", "error"}},
	} {
		var l logFlags
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		fs.SetOutput(new(bytes.Buffer))
		l.addTo(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		log := l.logger(&buf)
		log.Debug("m-debug")
		log.Info("m-info")
		log.Warn("m-warn")
		log.Error("m-error")
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			if !strings.Contains(line, "m-") {
				continue // a stack trace line of the console format
			}
			if isJSON := json.Valid([]byte(line)); isJSON != tc.json {
				t.Errorf("%v: line %q: JSON %v, want %v", tc.args, line, isJSON, tc.json)
			}
			for _, lvl := range []string{"debug", "info", "warn", "error"} {
				if strings.Contains(line, "m-"+lvl) {
					got = append(got, lvl)
				}
			}
		}
		if !slices.Equal(got, tc.written) || l.level != tc.lowest {
			t.Errorf("%v: wrote %v (level %v), want %v", tc.args, got, l.level, tc.written)
		}
	}
}
