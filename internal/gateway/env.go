package gateway

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"httpd/registry"
)

// perRequestVars are the variables a gateway sets for every request.
var perRequestVars = map[string]bool{
	"GATEWAY_INTERFACE": true, "SERVER_SOFTWARE": true, "SERVER_NAME": true,
	"SERVER_ADDR": true, "SERVER_PORT": true, "SERVER_PROTOCOL": true,
	"REQUEST_METHOD": true, "REQUEST_URI": true, "REQUEST_SCHEME": true,
	"SCRIPT_NAME": true, "SCRIPT_FILENAME": true, "PATH_INFO": true,
	"PATH_TRANSLATED": true, "QUERY_STRING": true, "REMOTE_ADDR": true,
	"REMOTE_PORT": true, "CONTENT_TYPE": true, "CONTENT_LENGTH": true,
	"DOCUMENT_ROOT": true, "HTTPS": true, "REMOTE_USER": true, "AUTH_TYPE": true,
}

// PerRequestVar reports whether name is a variable that every gateway
// sets from the request: one of RequestVars's, SCRIPT_NAME,
// SCRIPT_FILENAME, PATH_INFO, PATH_TRANSLATED, CONTENT_LENGTH or
// DOCUMENT_ROOT. Some are set only for some requests (REMOTE_USER and
// AUTH_TYPE only for an authenticated one); the config cannot set any of
// them, so that an unauthenticated request never looks authenticated.
// HTTP_* names are not; they are reserved all the same.
func PerRequestVar(name string) bool { return perRequestVars[name] }

// EnvOptions say how a gateway names the entries of its env attribute in
// diagnostics, and which names it reserves beyond the common ones.
type EnvOptions struct {
	// Summary heads every diagnostic: "Invalid environment variable".
	Summary string
	// Entry and Entries name one entry and several in the details:
	// "CGI variable" and "variables".
	Entry, Entries string
	// Reserved are names the gateway sets itself, beyond the
	// PerRequestVar ones and HTTP_*.
	Reserved []string
}

// DecodeEnv reads the env attribute of a gateway's block: a map of
// extra variables passed with every request. It adds a diagnostic on
// the attribute, in name order, for each name that is empty, holds '='
// or NUL, starts with HTTP_ (those carry request headers), or is one the
// gateway sets (PerRequestVar or opts.Reserved), and for each value that
// holds NUL. The map is nil when the block has no env.
func DecodeEnv(c *hcl.BodyContent, ectx *hcl.EvalContext, opts EnvOptions) (map[string]string, hcl.Diagnostics) {
	env, diags := registry.StringMap(c, "env", ectx)
	a, ok := c.Attributes["env"]
	if !ok {
		return env, diags
	}
	for _, name := range slices.Sorted(maps.Keys(env)) {
		if why := opts.checkName(name); why != "" {
			diags = append(diags, registry.AttrError(a, opts.Summary, fmt.Sprintf("%q: %s.", name, why)))
		}
		if strings.ContainsRune(env[name], 0) {
			diags = append(diags, registry.AttrError(a, opts.Summary, fmt.Sprintf("the value of %q holds a NUL byte.", name)))
		}
	}
	return env, diags
}

// checkName says why name cannot be set from the env attribute, or "".
func (opts *EnvOptions) checkName(name string) string {
	switch {
	case name == "":
		return "a name cannot be empty"
	case strings.ContainsAny(name, "=\x00"):
		return "a name cannot hold '=' or NUL"
	case strings.HasPrefix(name, "HTTP_"):
		return "HTTP_* " + opts.Entries + " carry the request's headers and are set per request"
	case perRequestVars[name] || slices.Contains(opts.Reserved, name):
		return "the server sets this " + opts.Entry + " for every request"
	}
	return ""
}
