package gcs

import (
	"context"
	"strings"
	"testing"
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

func TestBearerToken(t *testing.T) {
	b := bearerToken{value: testToken}
	got, err := b.token(context.Background())
	if err != nil || got != testToken {
		t.Errorf("bearerToken.token() = %t, %v: want the shared token", got == testToken, err)
	}
	if s := sprintAll(b); strings.Contains(s, testToken) {
		t.Errorf("%q reveals the token", s)
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

func TestCredentialPerMode(t *testing.T) {
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
		{name: "AuthKubernetes", opts: Options{Auth: AuthKubernetes, TokenSource: &rotatingSource{name: "the test source"}},
			want: "kubernetes serviceaccount token from the test source"},
		{name: "AuthKubernetes, a source without String", opts: Options{Auth: AuthKubernetes, TokenSource: plainSource{}},
			want: "kubernetes serviceaccount token from a gcs.plainSource"},
		{name: "AuthKubernetes without a source", opts: Options{Auth: AuthKubernetes}, wantErr: true},
		{name: "AuthKubernetes with a Ray token", opts: Options{Auth: AuthKubernetes, Token: testToken, TokenSource: &rotatingSource{}}, wantErr: true},
		{name: "a source is ignored by AuthToken", opts: Options{Token: testToken, TokenSource: &rotatingSource{}}, want: "bearer " + redacted},
		{name: "unknown mode", opts: Options{Auth: Auth(9)}, wantErr: true},
		{name: "token gRPC cannot carry", opts: Options{Token: "a\nb" + testToken}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			creds, err := newCredential(tt.opts)
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
