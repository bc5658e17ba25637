package coding

import "strings"

// Accept is a parsed Accept-Encoding header: the weight (q-value times
// 1000) the client gives each coding httpd speaks.
type Accept struct {
	q [numCodings]int16 // by Coding; -1 when the header does not name it
	// star is the weight of "*", for codings not named; -1 when absent.
	star int16
}

// ParseAccept parses the Accept-Encoding field values. Unknown codings
// are ignored; an element whose q is malformed counts as q=0, so it is
// never chosen. "x-gzip" is gzip. With no values at all the client
// accepts only identity (RFC 9110 allows any coding then, but sending
// none is what every server does).
func ParseAccept(values []string) Accept {
	a := Accept{star: -1}
	for i := range a.q {
		a.q[i] = -1
	}
	for _, v := range values {
		for v != "" {
			var elem string
			if i := strings.IndexByte(v, ','); i >= 0 {
				elem, v = v[:i], v[i+1:]
			} else {
				elem, v = v, ""
			}
			name, params, _ := strings.Cut(elem, ";")
			name = trimOWS(name)
			if name == "" {
				continue
			}
			q := parseQ(params)
			if name == "*" {
				a.star = max(a.star, q)
				continue
			}
			if c, ok := Parse(name); ok {
				a.q[c] = max(a.q[c], q)
			}
		}
	}
	return a
}

// Q returns the weight, 0 to 1000, the client gives c: its own, else that
// of "*", else 0 (identity: 1000 unless refused by name or by "*;q=0").
func (a Accept) Q(c Coding) int {
	if q := a.q[c]; q >= 0 {
		return int(q)
	}
	if a.star >= 0 {
		return int(a.star)
	}
	if c == Identity {
		return 1000
	}
	return 0
}

// Choose returns the codings of server the client accepts (weight above
// 0), by weight, then in server's order: the first is what to send.
// The result is appended to dst.
func (a Accept) Choose(dst []Coding, server []Coding) []Coding {
	start := len(dst)
	for _, c := range server {
		if c == Identity || a.Q(c) <= 0 {
			continue
		}
		// Insertion by weight; equal weights keep server order.
		dst = append(dst, c)
		for i := len(dst) - 1; i > start && a.Q(dst[i-1]) < a.Q(dst[i]); i-- {
			dst[i-1], dst[i] = dst[i], dst[i-1]
		}
	}
	return dst
}

// parseQ reads the q parameter of an element's parameters: 1000 when
// there is none, 0 when it is malformed (so the element is refused, which
// is the safe reading of a broken header).
func parseQ(params string) int16 {
	for params != "" {
		var p string
		if i := strings.IndexByte(params, ';'); i >= 0 {
			p, params = params[:i], params[i+1:]
		} else {
			p, params = params, ""
		}
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		if k = trimOWS(k); k != "q" && k != "Q" {
			continue
		}
		return qValue(trimOWS(v))
	}
	return 1000
}

// qValue parses a weight: "0" or "1" with up to three decimals.
func qValue(s string) int16 {
	if s == "" || len(s) > 5 {
		return 0
	}
	int0 := s[0]
	if int0 != '0' && int0 != '1' {
		return 0
	}
	q := int16(int0-'0') * 1000
	if len(s) == 1 {
		return q
	}
	if s[1] != '.' {
		return 0
	}
	mult := int16(100)
	for i := 2; i < len(s); i++ {
		d := s[i]
		if d < '0' || d > '9' {
			return 0
		}
		q += int16(d-'0') * mult
		mult /= 10
	}
	if q > 1000 {
		return 0
	}
	return q
}

func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
