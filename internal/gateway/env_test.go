package gateway

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"httpd/internal/testutil"
)

func TestDecodeEnv(t *testing.T) {
	cgi := EnvOptions{Summary: "Invalid environment variable", Entry: "CGI variable", Entries: "variables"}
	fastcgi := EnvOptions{Summary: "Invalid FastCGI parameter", Entry: "parameter", Entries: "parameters", Reserved: []string{"REDIRECT_STATUS"}}
	tests := []struct {
		name string
		opts EnvOptions
		env  string // the attribute's value; "" for no attribute
		want map[string]string
		errs []string // the details, in order
	}{
		{name: "none", opts: cgi},
		{name: "empty", opts: cgi, env: `{}`, want: map[string]string{}},
		{name: "some", opts: cgi, env: `{ B = "2", A = "1", REDIRECT_STATUS = "x" }`, want: map[string]string{"A": "1", "B": "2", "REDIRECT_STATUS": "x"}},
		{name: "cgi reserved", opts: cgi, env: `{ SCRIPT_NAME = "x" }`, errs: []string{`"SCRIPT_NAME": the server sets this CGI variable for every request.`}},
		{name: "user variables", opts: cgi, env: `{ REMOTE_USER = "admin", AUTH_TYPE = "Basic" }`, errs: []string{
			`"AUTH_TYPE": the server sets this CGI variable for every request.`,
			`"REMOTE_USER": the server sets this CGI variable for every request.`,
		}},
		{name: "cgi header", opts: cgi, env: `{ HTTP_PROXY = "x" }`, errs: []string{`"HTTP_PROXY": HTTP_* variables carry the request's headers and are set per request.`}},
		{name: "fastcgi reserved", opts: fastcgi, env: `{ SCRIPT_FILENAME = "/etc/passwd", REDIRECT_STATUS = "1" }`, errs: []string{
			`"REDIRECT_STATUS": the server sets this parameter for every request.`,
			`"SCRIPT_FILENAME": the server sets this parameter for every request.`,
		}},
		{name: "fastcgi header", opts: fastcgi, env: `{ HTTP_PROXY = "x" }`, errs: []string{`"HTTP_PROXY": HTTP_* parameters carry the request's headers and are set per request.`}},
		{name: "bad names and values", opts: cgi, env: `{ "" = "a", "A=B" = "b", "C" = "x\u0000y" }`, errs: []string{
			`"": a name cannot be empty.`,
			`"A=B": a name cannot hold '=' or NUL.`,
			`the value of "C" holds a NUL byte.`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "gw {\n}\n"
			if tt.env != "" {
				src = "gw {\nenv = " + tt.env + "\n}\n"
			}
			b := testutil.ParseBlock(t, src)
			c, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "env"}}})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			env, diags := DecodeEnv(c, nil, tt.opts)
			var errs []string
			for _, d := range diags {
				if d.Summary != tt.opts.Summary {
					t.Errorf("summary %q", d.Summary)
				}
				errs = append(errs, d.Detail)
			}
			if !reflect.DeepEqual(errs, tt.errs) {
				t.Errorf("details:\n%s\nwant:\n%s", strings.Join(errs, "\n"), strings.Join(tt.errs, "\n"))
			}
			if tt.errs == nil && !reflect.DeepEqual(env, tt.want) {
				t.Errorf("env = %v, want %v", env, tt.want)
			}
		})
	}
}
