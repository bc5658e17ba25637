package conf

import (
	"fmt"
	"net"
	"os"
	"sort"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"httpd/registry"
)

// coreVHostAttrs are the vhost attributes the core itself owns; every
// block type other than tls belongs to a module.
var coreVHostAttrs = []hcl.AttributeSchema{
	{Name: "aliases"}, {Name: "listen"}, {Name: "default"}, {Name: "document_root"}, {Name: "tls"}, {Name: "h2c"},
}

var tlsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "cert", Required: true}, {Name: "key", Required: true}},
}

// attrModules are the modules a vhost configures with an attribute of
// the module's name rather than a block, such as
// error_pages = { "404" = "/errors/404.html" }. The core hands the
// attribute to the module's Decode as a block whose body holds just it.
var attrModules = map[string]bool{"error_pages": true}

// IsAttribute reports whether the module named name is configured by a
// vhost attribute rather than a block.
func IsAttribute(name string) bool { return attrModules[name] }

// vhostSchema is built from the registry, so that HCL itself suggests the
// closest block type (or attribute) for a misspelt one.
func vhostSchema() *hcl.BodySchema {
	s := &hcl.BodySchema{Attributes: append([]hcl.AttributeSchema(nil), coreVHostAttrs...)}
	s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: "tls"})
	for _, m := range registry.Modules() {
		if attrModules[m.Name] {
			s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: m.Name})
			continue
		}
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: m.Name, LabelNames: m.Labels})
	}
	return s
}

// blockNames lists the module block types a vhost may hold.
func blockNames() []string {
	var out []string
	for _, n := range registry.Names() {
		if !attrModules[n] {
			out = append(out, n)
		}
	}
	return out
}

// moduleBlocks returns the vhost's module attributes, as blocks, followed
// by its blocks.
func moduleBlocks(c *hcl.BodyContent) hcl.Blocks {
	var out hcl.Blocks
	for _, a := range c.Attributes {
		if attrModules[a.Name] {
			out = append(out, &hcl.Block{Type: a.Name, Body: attrBody{a}, DefRange: a.NameRange, TypeRange: a.NameRange})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DefRange.Start.Byte < out[j].DefRange.Start.Byte })
	return append(out, c.Blocks...)
}

// attrBody is the body of a block made from a module attribute: it holds
// that attribute only.
type attrBody struct{ attr *hcl.Attribute }

func (b attrBody) Content(s *hcl.BodySchema) (*hcl.BodyContent, hcl.Diagnostics) {
	c, _, diags := b.PartialContent(s)
	for _, as := range s.Attributes {
		if as.Name == b.attr.Name {
			return c, diags
		}
	}
	return c, append(diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Unsupported argument",
		Detail:   fmt.Sprintf("An argument named %q is not expected here.", b.attr.Name),
		Subject:  b.attr.NameRange.Ptr(),
	})
}

func (b attrBody) PartialContent(s *hcl.BodySchema) (*hcl.BodyContent, hcl.Body, hcl.Diagnostics) {
	c := &hcl.BodyContent{Attributes: hcl.Attributes{}, MissingItemRange: b.attr.NameRange}
	var diags hcl.Diagnostics
	for _, as := range s.Attributes {
		switch {
		case as.Name == b.attr.Name:
			c.Attributes[as.Name] = b.attr
		case as.Required:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Missing required argument",
				Detail:   fmt.Sprintf("The argument %q is required.", as.Name),
				Subject:  b.attr.NameRange.Ptr(),
			})
		}
	}
	return c, hcl.EmptyBody(), diags
}

func (b attrBody) JustAttributes() (hcl.Attributes, hcl.Diagnostics) {
	return hcl.Attributes{b.attr.Name: b.attr}, nil
}

func (b attrBody) MissingItemRange() hcl.Range { return b.attr.NameRange }

func (d *decoder) decodeVHost(b *hcl.Block) hcl.Diagnostics {
	v := &VHost{Name: normalizeName(b.Labels[0]), DefRange: b.DefRange}
	c, diags := b.Body.Content(vhostSchema())
	for _, diag := range diags {
		if diag.Summary == "Unsupported block type" {
			if !strings.Contains(diag.Detail, "Did you mean to define argument") {
				closestBlockType(b.Body, diag)
			}
			diag.Detail += " Block types a vhost may hold: tls, " + strings.Join(blockNames(), ", ") + "."
		}
		if diag.Summary == "Unsupported argument" && strings.Contains(diag.Detail, `"include"`) {
			diag.Detail += " include is a top-level attribute: write it outside every vhost block."
		}
	}
	if msg := checkName(v.Name, false); msg != "" {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Invalid vhost name", Detail: msg,
			Subject: b.LabelRanges[0].Ptr(),
		})
	}

	var ds hcl.Diagnostics
	var aliases []string
	aliases, ds = registry.StringList(c, "aliases", d.ectx, nil)
	diags = append(diags, ds...)
	for _, a := range aliases {
		n := normalizeName(a)
		if msg := checkName(n, true); msg != "" {
			diags = append(diags, registry.AttrError(c.Attributes["aliases"], "Invalid alias", msg))
			continue
		}
		v.Aliases = append(v.Aliases, n)
	}
	v.Default, ds = registry.Bool(c, "default", d.ectx, false)
	diags = append(diags, ds...)
	v.H2C, ds = registry.Bool(c, "h2c", d.ectx, false)
	diags = append(diags, ds...)

	var docRoot string
	docRoot, ds = registry.String(c, "document_root", d.ectx, "")
	diags = append(diags, ds...)
	if docRoot != "" {
		v.DocumentRoot = d.path(docRoot)
		if st, err := os.Stat(v.DocumentRoot); err != nil || !st.IsDir() {
			diags = append(diags, registry.AttrError(c.Attributes["document_root"], "document_root is not a folder",
				fmt.Sprintf("%s does not exist or is not a directory; relative paths are resolved against server_root (%s).", v.DocumentRoot, d.cfg.ServerRoot)))
		}
	}

	diags = append(diags, d.decodeTLS(v, c)...)
	diags = append(diags, d.decodeListen(v, c)...)

	dc := &registry.DecodeContext{
		Eval:         d.ectx,
		ServerRoot:   d.cfg.ServerRoot,
		DocumentRoot: v.DocumentRoot,
		DataDir:      d.cfg.Server.DataDir,
		VHost:        v.Name,
		File:         d.cfg.File,
	}
	diags = append(diags, decodeModules(v, moduleBlocks(c), dc)...)
	d.cfg.VHosts = append(d.cfg.VHosts, v)
	return diags
}

func (d *decoder) decodeTLS(v *VHost, c *hcl.BodyContent) hcl.Diagnostics {
	v.TLS.Mode = TLSOff
	var diags hcl.Diagnostics
	if a, ok := c.Attributes["tls"]; ok {
		v.TLS.Range = a.Range
		var ds hcl.Diagnostics
		v.TLS.Mode, ds = oneOf(c, "tls", d.ectx, TLSOff, TLSOff, TLSAuto, TLSInternal)
		diags = append(diags, ds...)
	}
	for _, b := range c.Blocks {
		if b.Type != "tls" {
			continue
		}
		if v.TLS.Mode != TLSOff || v.TLS.Cert != "" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Conflicting TLS settings",
				Detail:   fmt.Sprintf(`A vhost has either tls = "auto" | "internal" or one tls { cert, key } block; another TLS setting is at %s.`, rangeString(v.TLS.Range)),
				Subject:  b.DefRange.Ptr(),
			})
			continue
		}
		tc, ds := b.Body.Content(tlsSchema)
		diags = append(diags, ds...)
		cert, ds := registry.String(tc, "cert", d.ectx, "")
		diags = append(diags, ds...)
		key, ds := registry.String(tc, "key", d.ectx, "")
		diags = append(diags, ds...)
		v.TLS = TLS{Mode: TLSFiles, Cert: d.path(cert), Key: d.path(key), Range: b.DefRange}
		for _, f := range []struct{ name, path string }{{"cert", v.TLS.Cert}, {"key", v.TLS.Key}} {
			if a, ok := tc.Attributes[f.name]; ok {
				if _, err := os.Stat(f.path); err != nil {
					diags = append(diags, registry.AttrError(a, "Cannot read tls."+f.name, err.Error()+"."))
				}
			}
		}
	}
	return diags
}

// decodeListen works out which addresses the vhost answers on and which of
// them speak TLS (SPEC §8).
func (d *decoder) decodeListen(v *VHost, c *hcl.BodyContent) hcl.Diagnostics {
	list, diags := registry.StringList(c, "listen", d.ectx, d.cfg.Server.Listen)
	rng := v.DefRange
	if a, ok := c.Attributes["listen"]; ok {
		rng = a.Expr.Range()
		if len(list) == 0 {
			diags = append(diags, registry.AttrError(a, "Empty listen", `A vhost needs at least one address; leave listen out to use server.listen.`))
		}
	}
	seen := map[string]bool{}
	for _, s := range list {
		addr, scheme, err := splitAddr(s)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid listen address", Detail: err.Error() + ".", Subject: rng.Ptr()})
			continue
		}
		if seen[addr] {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate listen address", Detail: fmt.Sprintf("%s is listed twice.", addr), Subject: rng.Ptr()})
			continue
		}
		seen[addr] = true
		_, port, _ := net.SplitHostPort(addr)
		tls := v.TLS.Mode != TLSOff
		switch {
		case scheme == "http":
			tls = false
		case scheme == "https":
			if !tls {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "HTTPS address without TLS",
					Detail: fmt.Sprintf(`%s asks for HTTPS, but vhost %q has TLS off: set tls = "auto", "internal" or a tls { cert, key } block.`, s, v.Name), Subject: rng.Ptr()})
			}
		case port == "80":
			tls = false
		}
		v.Listeners = append(v.Listeners, Listener{Addr: addr, TLS: tls, Range: rng})
	}
	return diags
}

// decodeModules hands each module block to the module that owns it.
func decodeModules(v *VHost, blocks hcl.Blocks, dc *registry.DecodeContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	mounts := map[string]*ModuleBlock{}
	var content *ModuleBlock
	for _, b := range blocks {
		info, ok := registry.Lookup(b.Type)
		if !ok {
			continue // tls, handled by the core
		}
		mb := &ModuleBlock{Info: info, Module: info.New(), Labels: b.Labels, DefRange: b.DefRange}
		// A block that cannot be used is still decoded (and validated
		// where that means something), so that its own errors show in
		// the same pass; keep says whether it joins the vhost.
		keep, validate := true, true
		if info.Phase == registry.PhaseMount {
			if diag := registry.CheckPrefix(b); diag != nil {
				diags = append(diags, diag)
				keep = false
			} else if prev, dup := mounts[mb.Prefix()]; dup {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate mount",
					Detail:   fmt.Sprintf("%q is already mounted in vhost %q by the %s block at %s; give each mount its own URL prefix.", mb.Prefix(), v.Name, prev.Info.Name, rangeString(prev.DefRange)),
					Subject:  b.LabelRanges[0].Ptr(),
					Context:  b.DefRange.Ptr(),
				})
				keep = false
			} else {
				mounts[mb.Prefix()] = mb
			}
		}
		if info.Phase == registry.PhaseContent {
			if content != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate " + b.Type + " block",
					Detail:   fmt.Sprintf("A vhost has one content block; the %s block at %s already serves document_root.", content.Info.Name, rangeString(content.DefRange)),
					Subject:  b.DefRange.Ptr(),
				})
				keep = false
			} else {
				content = mb
			}
			switch {
			case dc.DocumentRoot == "":
				if keep {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "No document_root",
						Detail:   fmt.Sprintf("The %s block serves document_root, but vhost %q sets none: add document_root = \"htdocs\".", b.Type, v.Name),
						Subject:  b.DefRange.Ptr(),
					})
				}
				validate = false // it could only say the same again
			case !isDir(dc.DocumentRoot):
				validate = false // decodeVHost reported it, pointing at document_root
			}
		}
		ds := decodeModule(mb.Module, b, dc, validate)
		diags = append(diags, ds...)
		if keep && validate && !ds.HasErrors() {
			v.Modules = append(v.Modules, mb)
		}
	}
	if content == nil && dc.DocumentRoot != "" && isDir(dc.DocumentRoot) {
		for _, info := range registry.Modules() {
			if info.Phase != registry.PhaseContent || !info.Implicit {
				continue
			}
			// A block with an empty body gives the module its defaults.
			b := &hcl.Block{Type: info.Name, Body: hcl.EmptyBody(), DefRange: v.DefRange, TypeRange: v.DefRange}
			mb := &ModuleBlock{Info: info, Module: info.New(), DefRange: v.DefRange}
			ds := decodeModule(mb.Module, b, dc, true)
			diags = append(diags, ds...)
			if !ds.HasErrors() {
				v.Modules = append(v.Modules, mb)
			}
			break
		}
	}
	// By phase, then by module within a phase, keeping the file's order
	// among blocks of one module: the blocks of one module sit side by
	// side, so a module that judges its blocks together (access and
	// basic_auth pick the longest prefix) sees them all wherever they
	// were written.
	sort.SliceStable(v.Modules, func(i, j int) bool {
		a, b := v.Modules[i].Info, v.Modules[j].Info
		if a.Phase != b.Phase {
			return a.Phase < b.Phase
		}
		return a.Name < b.Name
	})
	return diags
}

// decodeModule decodes one block with its module and, when validate is
// set, validates it, so that one pass reports every problem of the block
// (SPEC §1): Validate runs also after Decode reported errors. A module
// whose Decode failed keeps the defaults of what it could not read, and
// its Validators check only what was set, so what Validate finds is
// still worth reporting, except where Decode already pointed: a Validate
// diagnostic about the same attribute as a Decode error, or about the
// block's header when Decode found a required attribute missing there,
// would only say the same thing again, and is left out.
func decodeModule(m registry.Module, b *hcl.Block, dc *registry.DecodeContext, validate bool) hcl.Diagnostics {
	diags := m.Decode(b, dc)
	val, ok := m.(registry.Validator)
	if !ok || !validate {
		return diags
	}
	// The header runs from the block type to the opening brace, where
	// HCL reports a missing required attribute.
	header := hcl.RangeBetween(b.DefRange, b.Body.MissingItemRange())
	decoded := diags
	for _, vd := range val.Validate(dc) {
		if !samePlace(vd, decoded, header) {
			diags = append(diags, vd)
		}
	}
	return diags
}

// samePlace reports whether d points where one of the errors in prev
// points: at overlapping ranges, or both at the block's header.
func samePlace(d *hcl.Diagnostic, prev hcl.Diagnostics, header hcl.Range) bool {
	if d.Subject == nil {
		return false
	}
	for _, p := range prev {
		if p.Severity != hcl.DiagError || p.Subject == nil {
			continue
		}
		if touches(*d.Subject, *p.Subject) || touches(*d.Subject, header) && touches(*p.Subject, header) {
			return true
		}
	}
	return false
}

// touches reports whether two ranges of one file overlap or meet.
func touches(a, b hcl.Range) bool {
	return a.Filename == b.Filename && a.Start.Byte <= b.End.Byte && b.Start.Byte <= a.End.Byte
}

// isDir reports whether path is an existing directory.
func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// normalizeName lowercases a host name and drops a trailing dot.
func normalizeName(s string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
}

// checkName returns why s cannot be a vhost name or alias, or "".
func checkName(s string, wildcardOK bool) string {
	n := s
	if strings.HasPrefix(n, "*.") {
		if !wildcardOK {
			return fmt.Sprintf("%q: a vhost's own name cannot be a wildcard; put \"*.\" names in aliases.", s)
		}
		n = n[2:]
	}
	if n == "" || len(n) > 253 {
		return fmt.Sprintf("%q is not a host name.", s)
	}
	if strings.HasPrefix(n, "[") && strings.HasSuffix(n, "]") && net.ParseIP(n[1:len(n)-1]) != nil {
		return ""
	}
	for _, label := range strings.Split(n, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Sprintf("%q is not a host name: it has an empty or overlong label.", s)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Sprintf("%q is not a host name: %q is not allowed (use the punycode form for international names; no port).", s, r)
			}
		}
	}
	return ""
}

// checkVHosts checks what involves several vhosts: names on a shared
// listener, defaults, and plain versus TLS addresses.
func checkVHosts(vhosts []*VHost) hcl.Diagnostics {
	var diags hcl.Diagnostics
	type owner struct {
		v   *VHost
		tls bool
	}
	addrTLS := map[string]owner{}
	names := map[string]map[string]*VHost{} // addr → name → vhost
	defaults := map[string]*VHost{}
	for _, v := range vhosts {
		for _, l := range v.Listeners {
			if prev, ok := addrTLS[l.Addr]; ok && prev.tls != l.TLS {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Listener is both plain and TLS",
					Detail: fmt.Sprintf("%s speaks %s for vhost %q (%s) but %s for vhost %q. Use another port, or write the address as http://%s or https://%s in both.",
						l.Addr, tlsWord(prev.tls), prev.v.Name, rangeString(prev.v.DefRange), tlsWord(l.TLS), v.Name, l.Addr, l.Addr),
					Subject: l.Range.Ptr(),
				})
			} else if !ok {
				addrTLS[l.Addr] = owner{v, l.TLS}
			}
			if names[l.Addr] == nil {
				names[l.Addr] = map[string]*VHost{}
			}
			for _, n := range v.Names() {
				if prev, dup := names[l.Addr][n]; dup && prev != v {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Duplicate host name",
						Detail:   fmt.Sprintf("%q on %s already belongs to vhost %q (%s); a name picks one vhost per listener.", n, l.Addr, prev.Name, rangeString(prev.DefRange)),
						Subject:  v.DefRange.Ptr(),
					})
				}
				names[l.Addr][n] = v
			}
			if v.Default {
				if prev, dup := defaults[l.Addr]; dup && prev != v {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Two default vhosts",
						Detail:   fmt.Sprintf("vhost %q (%s) is already the default for %s; only one vhost per listener may set default = true.", prev.Name, rangeString(prev.DefRange), l.Addr),
						Subject:  v.DefRange.Ptr(),
					})
				}
				defaults[l.Addr] = v
			}
		}
	}
	return diags
}

func tlsWord(tls bool) string {
	if tls {
		return "TLS"
	}
	return "plain HTTP"
}

// closestBlockType makes the suggestion of an "Unsupported block type"
// diagnostic the closest block type: HCL suggests the first one close
// enough, and with "status" and "static" both near "statc" that is not
// always the likely one.
func closestBlockType(body hcl.Body, diag *hcl.Diagnostic) {
	sb, ok := body.(*hclsyntax.Body)
	if !ok || diag.Subject == nil {
		return
	}
	for _, blk := range sb.Blocks {
		if blk.TypeRange != *diag.Subject {
			continue
		}
		diag.Detail = fmt.Sprintf("Blocks of type %q are not expected here.", blk.Type)
		if s := suggest(blk.Type, append([]string{"tls"}, registry.Names()...)); s != "" {
			diag.Detail += fmt.Sprintf(" Did you mean %q?", s)
		}
		return
	}
}

// suggest returns the choice closest to s, if it is close enough to be a
// likely typo.
func suggest(s string, choices []string) string {
	best, bestDist := "", 3
	for _, c := range choices {
		if d := levenshtein.Distance(s, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}
