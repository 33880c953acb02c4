package gcs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTokenFromSecret(t *testing.T) {
	tests := []struct {
		name    string
		data    map[string][]byte
		want    string
		wantErr bool
	}{
		{name: "plain", data: map[string][]byte{"auth_token": []byte(testToken)}, want: testToken},
		{name: "trailing newline", data: map[string][]byte{"auth_token": []byte(testToken + "\n")}, want: testToken},
		{name: "missing key", data: map[string][]byte{"token": []byte(testToken)}, wantErr: true},
		{name: "nil data", data: nil, wantErr: true},
		{name: "empty", data: map[string][]byte{"auth_token": []byte(" \n")}, wantErr: true},
		{name: "control character", data: map[string][]byte{"auth_token": []byte("abc\x00" + testToken)}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TokenFromSecret(tt.data)
			if (err != nil) != tt.wantErr {
				t.Fatalf("TokenFromSecret error = %v, want error %t", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("TokenFromSecret = %q, want %q", got, tt.want)
			}
			assertNoToken(t, err, testToken)
		})
	}
}

func TestBearerTokenMetadata(t *testing.T) {
	md, err := bearerToken{token: testToken}.GetRequestMetadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(md) != 1 || md["authorization"] != "Bearer "+testToken {
		t.Errorf("metadata keys %v, want exactly authorization: Bearer <token>", keys(md))
	}
	if (bearerToken{}).RequireTransportSecurity() {
		t.Error("RequireTransportSecurity = true; Ray's GCS is plaintext by default")
	}
}

func TestRedactError(t *testing.T) {
	err := redactError(errorString("dial failed for "+testToken), testToken)
	if strings.Contains(err.Error(), testToken) || !strings.Contains(err.Error(), redacted) {
		t.Errorf("redactError = %q", err)
	}
	if redactError(nil, testToken) != nil {
		t.Error("redactError(nil) != nil")
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestTokenFromFileReadsTheFirstLineLikeRay(t *testing.T) {
	tests := map[string]struct{ content, want string }{
		"plain":               {testToken, testToken},
		"trailing newline":    {testToken + "\n", testToken},
		"crlf":                {testToken + "\r\n", testToken},
		"second line ignored": {" " + testToken + "\t\nsomething else\n", testToken},
		"empty":               {"", ""},
		"blank first line":    {"\n" + testToken, ""},
		"vertical tab and ff": {"\v\f" + testToken + "\f", testToken},
	}
	for name, tt := range tests {
		if got := TokenFromFile([]byte(tt.content)); got != tt.want {
			t.Errorf("%s: TokenFromFile = %q, want %q", name, got, tt.want)
		}
	}
	if got := TrimToken(" \t" + testToken + "\n\r"); got != testToken {
		t.Errorf("TrimToken = %q", got)
	}
}

// writeTokenFile replaces path's content the way the kubelet rotates a
// projected token: a new file renamed over the old one.
func writeTokenFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestTokenFileRereadsAfterRefresh(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	writeTokenFile(t, path, "first-"+testToken+"\n")
	now := time.Unix(1000, 0)
	f := newTokenFile(path, time.Minute, func() time.Time { return now })
	header := func() string {
		t.Helper()
		md, err := f.GetRequestMetadata(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return md[AuthMetadataKey]
	}
	if got := header(); got != "Bearer first-"+testToken {
		t.Fatalf("first header %q", got)
	}
	writeTokenFile(t, path, "second-"+testToken)
	now = now.Add(59 * time.Second)
	if got := header(); got != "Bearer first-"+testToken {
		t.Errorf("within the refresh period the cached token is sent; got a different one")
	}
	now = now.Add(time.Second)
	if got := header(); got != "Bearer second-"+testToken {
		t.Errorf("after the refresh period the rotated token must be sent")
	}
	sent := f.sent()
	if !slices.Contains(sent, "first-"+testToken) || !slices.Contains(sent, "second-"+testToken) {
		t.Errorf("sent() must list the current and the previous token for redaction")
	}
	for _, s := range []string{f.String(), fmt.Sprintf("%v %+v %#v", f, f, f)} {
		if strings.Contains(s, testToken) || !strings.Contains(s, path) {
			t.Errorf("%q must name the file and hide the token", s)
		}
	}
}

func TestTokenFileErrorsNameTheFileNotTheToken(t *testing.T) {
	dir := t.TempDir()
	missing := newTokenFile(filepath.Join(dir, "absent"), 0, nil)
	if _, err := missing.GetRequestMetadata(context.Background()); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "absent")) {
		t.Errorf("missing file: error %v must name the file", err)
	}
	empty := filepath.Join(dir, "empty")
	writeTokenFile(t, empty, " \n")
	if _, err := newTokenFile(empty, 0, nil).current(); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty file: error %v", err)
	}
	bad := filepath.Join(dir, "bad")
	writeTokenFile(t, bad, testToken+"\x00tail")
	_, err := newTokenFile(bad, 0, nil).current()
	if err == nil {
		t.Fatal("a token gRPC metadata cannot carry was accepted")
	}
	assertNoToken(t, err, testToken)
}

func TestRPCCredentialsPerMode(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		want    string // String() of the credentials, "" for none
		wantErr bool
	}{
		{name: "zero value", opts: Options{}},
		{name: "token implies AuthToken", opts: Options{Token: testToken}, want: "bearer " + redacted},
		{name: "AuthToken", opts: Options{Auth: AuthToken, Token: testToken}, want: "bearer " + redacted},
		{name: "AuthToken without a token", opts: Options{Auth: AuthToken}, wantErr: true},
		{name: "AuthKubernetes default file", opts: Options{Auth: AuthKubernetes}, want: "kubernetes serviceaccount token from " + DefaultKubernetesTokenFile},
		{name: "AuthKubernetes own file", opts: Options{Auth: AuthKubernetes, KubernetesTokenFile: "/tmp/t"}, want: "kubernetes serviceaccount token from /tmp/t"},
		{name: "AuthKubernetes with a Ray token", opts: Options{Auth: AuthKubernetes, Token: testToken}, wantErr: true},
		{name: "unknown mode", opts: Options{Auth: Auth(9)}, wantErr: true},
		{name: "token gRPC cannot carry", opts: Options{Token: "a\nb" + testToken}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			creds, err := rpcCredentials(tt.opts)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %t", err, tt.wantErr)
			}
			assertNoToken(t, err, testToken)
			got := ""
			if creds != nil {
				got = creds.String()
			}
			if !tt.wantErr && got != tt.want {
				t.Errorf("credentials %q, want %q", got, tt.want)
			}
		})
	}
}
