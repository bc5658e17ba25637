package fileserver

import (
	"strings"
	"testing"
)

func FuzzParseTryFiles(f *testing.F) {
	for _, s := range []string{"{path}", "{path}/", "/index.html", "=404", "/../x", "{path}.html", "/{uri}", "=200", "/a/./b"} {
		f.Add(s, "/index.html")
	}
	f.Fuzz(func(t *testing.T, try, fallback string) {
		tf, err := ParseTryFiles([]string{try, fallback})
		if err != nil {
			return
		}
		for _, e := range append(tf.Tries, tf.Fallback) {
			if e == "" {
				continue
			}
			p := expand(e, "/a/b")
			if !strings.HasPrefix(p, "/") {
				t.Fatalf("%q expands to %q, not absolute", e, p)
			}
			for _, seg := range strings.Split(p, "/") {
				if seg == ".." || seg == "." {
					t.Fatalf("%q expands to %q, with a dot segment", e, p)
				}
			}
		}
		if tf.Fallback == "" && (tf.Status < 400 || tf.Status > 599) {
			t.Fatalf("no fallback and status %d", tf.Status)
		}
	})
}
