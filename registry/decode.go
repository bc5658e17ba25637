package registry

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Attr evaluates an optional attribute of a block's content. It returns
// cty.NilVal when the attribute is absent or null.
func Attr(content *hcl.BodyContent, name string, ectx *hcl.EvalContext) (cty.Value, *hcl.Attribute, hcl.Diagnostics) {
	attr, ok := content.Attributes[name]
	if !ok {
		return cty.NilVal, nil, nil
	}
	v, diags := attr.Expr.Value(ectx)
	if diags.HasErrors() || v.IsNull() {
		return cty.NilVal, attr, diags
	}
	if !v.IsWhollyKnown() {
		return cty.NilVal, attr, hcl.Diagnostics{attrError(attr, "Unknown value", "The value of "+name+" must be known when the config is read.")}
	}
	return v, attr, nil
}

func attrError(attr *hcl.Attribute, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   detail,
		Subject:  attr.Expr.Range().Ptr(),
		Context:  attr.Range.Ptr(),
	}
}

// AttrError is a diagnostic pointing at an attribute's value.
func AttrError(attr *hcl.Attribute, summary, detail string) *hcl.Diagnostic {
	return attrError(attr, summary, detail)
}

func convertTo(attr *hcl.Attribute, v cty.Value, ty cty.Type, what string) (cty.Value, hcl.Diagnostics) {
	out, err := convert.Convert(v, ty)
	if err != nil {
		return cty.NilVal, hcl.Diagnostics{attrError(attr, "Invalid value for "+attr.Name,
			fmt.Sprintf("%s must be %s: %s.", attr.Name, what, err))}
	}
	return out, nil
}

// String reads an optional string attribute; def when absent.
func String(content *hcl.BodyContent, name string, ectx *hcl.EvalContext, def string) (string, hcl.Diagnostics) {
	v, attr, diags := Attr(content, name, ectx)
	if v == cty.NilVal {
		return def, diags
	}
	s, diags := convertTo(attr, v, cty.String, "a string")
	if diags.HasErrors() {
		return def, diags
	}
	return s.AsString(), nil
}

// Bool reads an optional bool attribute; def when absent.
func Bool(content *hcl.BodyContent, name string, ectx *hcl.EvalContext, def bool) (bool, hcl.Diagnostics) {
	v, attr, diags := Attr(content, name, ectx)
	if v == cty.NilVal {
		return def, diags
	}
	b, diags := convertTo(attr, v, cty.Bool, "true or false")
	if diags.HasErrors() {
		return def, diags
	}
	return b.True(), nil
}

// Int reads an optional whole number attribute within [min, max]; def
// when absent.
func Int(content *hcl.BodyContent, name string, ectx *hcl.EvalContext, def, min, max int) (int, hcl.Diagnostics) {
	v, attr, diags := Attr(content, name, ectx)
	if v == cty.NilVal {
		return def, diags
	}
	n, diags := convertTo(attr, v, cty.Number, "a number")
	if diags.HasErrors() {
		return def, diags
	}
	bf := n.AsBigFloat()
	i, acc := bf.Int64()
	if !bf.IsInt() || acc != 0 || i < int64(min) || i > int64(max) {
		return def, hcl.Diagnostics{attrError(attr, "Invalid value for "+name,
			fmt.Sprintf("%s must be a whole number from %d to %d.", name, min, max))}
	}
	return int(i), nil
}

// StringList reads an optional list of strings; def when absent.
func StringList(content *hcl.BodyContent, name string, ectx *hcl.EvalContext, def []string) ([]string, hcl.Diagnostics) {
	v, attr, diags := Attr(content, name, ectx)
	if v == cty.NilVal {
		return def, diags
	}
	l, diags := convertTo(attr, v, cty.List(cty.String), "a list of strings")
	if diags.HasErrors() {
		return def, diags
	}
	out := []string{}
	for it := l.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			return def, hcl.Diagnostics{attrError(attr, "Invalid value for "+name, name+" must not hold null.")}
		}
		out = append(out, e.AsString())
	}
	return out, nil
}

// StringMap reads an optional map of strings (like env = { A = "1" }).
func StringMap(content *hcl.BodyContent, name string, ectx *hcl.EvalContext) (map[string]string, hcl.Diagnostics) {
	v, attr, diags := Attr(content, name, ectx)
	if v == cty.NilVal {
		return nil, diags
	}
	m, diags := convertTo(attr, v, cty.Map(cty.String), "a map of strings")
	if diags.HasErrors() {
		return nil, diags
	}
	out := map[string]string{}
	for it := m.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if e.IsNull() {
			return nil, hcl.Diagnostics{attrError(attr, "Invalid value for "+name, name+" must not hold null.")}
		}
		out[k.AsString()] = e.AsString()
	}
	return out, nil
}

// Duration reads an optional duration such as "30s" or "5m"; def when
// absent. A negative duration is an error.
func Duration(content *hcl.BodyContent, name string, ectx *hcl.EvalContext, def time.Duration) (time.Duration, hcl.Diagnostics) {
	v, attr, diags := Attr(content, name, ectx)
	if v == cty.NilVal {
		return def, diags
	}
	if v.Type() != cty.String {
		return def, hcl.Diagnostics{attrError(attr, "Invalid duration for "+name,
			`Write durations as strings with a unit, such as "30s", "5m" or "1h30m".`)}
	}
	d, err := time.ParseDuration(v.AsString())
	if err != nil || d < 0 {
		return def, hcl.Diagnostics{attrError(attr, "Invalid duration for "+name,
			fmt.Sprintf(`%q is not a duration: write a number and a unit, such as "30s", "5m" or "1h30m".`, v.AsString()))}
	}
	return d, nil
}

// Size reads an optional size: a number of bytes or a string such as
// "64KiB", "10MB" or "1G"; def when absent.
func Size(content *hcl.BodyContent, name string, ectx *hcl.EvalContext, def int64) (int64, hcl.Diagnostics) {
	v, attr, diags := Attr(content, name, ectx)
	if v == cty.NilVal {
		return def, diags
	}
	var s string
	switch v.Type() {
	case cty.Number:
		s = v.AsBigFloat().Text('f', -1)
	case cty.String:
		s = v.AsString()
	default:
		return def, hcl.Diagnostics{attrError(attr, "Invalid size for "+name, `Write sizes as a number of bytes or a string such as "64KiB" or "10MiB".`)}
	}
	n, err := ParseSize(s)
	if err != nil {
		return def, hcl.Diagnostics{attrError(attr, "Invalid size for "+name, err.Error()+`: write a number of bytes or a string such as "64KiB" or "10MiB".`)}
	}
	return n, nil
}

// ParseSize parses "1024", "64KiB", "64k", "10MB", "1GiB". Units are
// binary (KiB = KB = K = 1024) as in Apache and nginx.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	f, err := strconv.ParseFloat(num, 64)
	if num == "" || err != nil || f < 0 {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	mult := map[string]float64{
		"": 1, "b": 1,
		"k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
		"m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
		"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
		"t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
	}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("%q has an unknown unit %q", s, unit)
	}
	f *= mult
	if f > math.MaxInt64 || f != math.Trunc(f) {
		return 0, fmt.Errorf("%q is not a whole number of bytes", s)
	}
	return int64(f), nil
}

// Path resolves p against the server root; absolute paths stay as they
// are. The empty string stays empty.
func (dc *DecodeContext) Path(p string) string {
	if p == "" {
		return ""
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dc.ServerRoot, p)
}

// MatchPrefix reports whether urlPath falls under a mount prefix. A prefix
// ending in "/" matches paths that start with it; any other prefix matches
// itself and paths continuing with "/" (so "/app" matches "/app" and
// "/app/x", not "/apple"). "/" matches everything.
func MatchPrefix(prefix, urlPath string) bool {
	if !strings.HasPrefix(urlPath, prefix) {
		return false
	}
	if len(urlPath) == len(prefix) || strings.HasSuffix(prefix, "/") {
		return true
	}
	return urlPath[len(prefix)] == '/'
}

// CheckPrefix returns a diagnostic when a mount label is not a usable URL
// prefix.
func CheckPrefix(b *hcl.Block) *hcl.Diagnostic {
	if len(b.Labels) == 0 {
		return nil
	}
	p := b.Labels[0]
	var why string
	switch {
	case !strings.HasPrefix(p, "/"):
		why = "a URL prefix must start with \"/\", like \"/cgi-bin/\""
	case strings.ContainsAny(p, "?#\\ \t\x00"):
		why = "a URL prefix cannot hold '?', '#', '\\', spaces or control characters"
	case strings.Contains(p, "//"):
		why = "a URL prefix cannot hold an empty segment (\"//\")"
	default:
		for _, seg := range strings.Split(p, "/") {
			if seg == "." || seg == ".." {
				why = "a URL prefix cannot hold \".\" or \"..\" segments"
			}
		}
	}
	if why == "" {
		return nil
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Invalid URL prefix",
		Detail:   fmt.Sprintf("%q: %s.", p, why),
		Subject:  b.LabelRanges[0].Ptr(),
		Context:  b.DefRange.Ptr(),
	}
}
