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
