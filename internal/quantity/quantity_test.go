package quantity

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    string // canonical form; "" means ErrTooLarge
		wantErr bool
	}{
		{in: "500m", want: "500m"},
		{in: "4Gi", want: "4Gi"},
		{in: "5E", want: "5E"},
		{in: "1e3", want: "1k"},
		{in: "1e-3", want: "1m"},
		{in: "1e0999", want: "1e999"},
		{in: "1e1000"},
		{in: "00500E000000000000008000000000000"}, // the fuzz finding
		{in: "1e-8000000000000"},
		{in: strings.Repeat("1", MaxLength+1)},
		{in: "x", wantErr: true},
	} {
		q, err := Parse(c.in)
		switch {
		case c.wantErr:
			if err == nil || errors.Is(err, ErrTooLarge) {
				t.Errorf("%q: err %v, want a format error", c.in, err)
			}
		case c.want == "":
			if !errors.Is(err, ErrTooLarge) {
				t.Errorf("%q: err %v, want ErrTooLarge", c.in, err)
			}
		default:
			if err != nil || q.Cmp(resource.MustParse(c.want)) != 0 {
				t.Errorf("%q: %v %v, want %s", c.in, q.String(), err, c.want)
			}
		}
	}
}

// FuzzParse: bounded input never hangs (go test -fuzz fails on a hang).
func FuzzParse(f *testing.F) {
	f.Add("1.5Gi")
	f.Add("5e99")
	f.Fuzz(func(t *testing.T, s string) {
		if q, err := Parse(s); err == nil && q.Sign() < 0 && !strings.HasPrefix(strings.TrimSpace(s), "-") {
			t.Fatalf("%q parsed negative: %v", s, q.String())
		}
	})
}
