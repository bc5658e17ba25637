package fileserver

import (
	"path"
	"path/filepath"
	"strings"
	"testing"
)

func TestCleanPath(t *testing.T) {
	tests := []struct {
		name, in, rel string
		ok            bool
	}{
		{"empty", "", ".", true},
		{"root", "/", ".", true},
		{"slashes only", "///", ".", true},
		{"file", "/a.txt", "a.txt", true},
		{"relative", "a.txt", "a.txt", true},
		{"nested", "/a/b/c.txt", "a/b/c.txt", true},
		{"trailing slash", "/a/b/", "a/b", true},
		{"double slash", "/a//b", "a/b", true},
		{"leading double slash", "//a/b", "a/b", true},
		{"trailing double slash", "/a/b//", "a/b", true},
		{"dot-file", "/.env", ".env", true},
		{"three dots inside name", "/a.../b", "a.../b", true},
		{"literal percent", "/%2e%2e/x", "%2e%2e/x", true},
		{"colon", "/a:b", "a:b", true},
		{"dotdot", "/..", "", false},
		{"dotdot inside", "/a/../b", "", false},
		{"dotdot trailing", "/a/..", "", false},
		{"dotdot relative", "../a", "", false},
		{"dotdot prefix segment", "/..a", "", false},
		{"dotdot semicolon", "/..;/a", "", false},
		{"three dots", "/...", "", false},
		{"dot", "/./a", "", false},
		{"dot trailing", "/a/.", "", false},
		{"dot alone", ".", "", false},
		{"backslash", "/a\\b", "", false},
		{"backslash dotdot", "/..\\a", "", false},
		{"nul", "/a\x00.txt", "", false},
		{"nul alone", "\x00", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rel, ok := CleanPath(tt.in)
			if rel != tt.rel || ok != tt.ok {
				t.Errorf("CleanPath(%q) = %q, %v; want %q, %v", tt.in, rel, ok, tt.rel, tt.ok)
			}
		})
	}
}

func TestCleanPathAllocs(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() { CleanPath("/assets/css/site.css") })
	if allocs != 0 {
		t.Errorf("CleanPath of a clean path allocates %v times; want 0", allocs)
	}
}

func TestHidden(t *testing.T) {
	tests := []struct {
		rel    string
		hidden bool
	}{
		{".", false},
		{"a.txt", false},
		{"a/b.c", false},
		{".env", true},
		{".git/config", true},
		{"a/.git", true},
		{"a/.git/config", true},
		{".well-known", false},
		{".well-known/acme", false},
		{".well-known/.x", true},
		{".well-known/a/.x", true},
		{"a/.well-known/x", true},
		{".well-knownx", true},
	}
	for _, tt := range tests {
		t.Run(tt.rel, func(t *testing.T) {
			if got := Hidden(tt.rel); got != tt.hidden {
				t.Errorf("Hidden(%q) = %v; want %v", tt.rel, got, tt.hidden)
			}
		})
	}
}

func TestHasEncodedSlash(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"/a/b", false},
		{"/a%2fb", true},
		{"/a%2Fb", true},
		{"/a%5cb", true},
		{"/a%5Cb", true},
		{"/a%252fb", false},
		{"/a%2", false},
		{"/%2e%2e/", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := HasEncodedSlash(tt.in); got != tt.want {
				t.Errorf("HasEncodedSlash(%q) = %v; want %v", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{
		"", "/", "/a/b", "/../x", "/a/../../b", "//a//b//", "/.well-known/x", "/a\\b",
		"/a\x00b", "/./a", "/...", "/..;/a", "..", "a/..", "/%2e%2e/", "C:\\x", "/a:b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		rel, ok := CleanPath(in)
		if !ok {
			if rel != "" {
				t.Fatalf("CleanPath(%q) rejected but returned %q", in, rel)
			}
			return
		}
		if rel == "." {
			if strings.Trim(in, "/") != "" {
				t.Fatalf("CleanPath(%q) = %q for a path with segments", in, rel)
			}
			return
		}
		if !filepath.IsLocal(rel) {
			t.Fatalf("CleanPath(%q) = %q, not local", in, rel)
		}
		if strings.ContainsAny(rel, "\\\x00") {
			t.Fatalf("CleanPath(%q) = %q holds a backslash or NUL", in, rel)
		}
		if path.Clean(rel) != rel || strings.HasPrefix(rel, "/") {
			t.Fatalf("CleanPath(%q) = %q is not clean", in, rel)
		}
		for seg := range strings.SplitSeq(rel, "/") {
			if seg == "" || seg == "." || strings.HasPrefix(seg, "..") {
				t.Fatalf("CleanPath(%q) = %q has segment %q", in, rel, seg)
			}
		}
		// The joined path stays below any root.
		if j := filepath.Join("/root", rel); !strings.HasPrefix(j, "/root/") {
			t.Fatalf("CleanPath(%q) = %q leaves the root: %q", in, rel, j)
		}
		// Cleaning is idempotent.
		if again, ok := CleanPath("/" + rel); !ok || again != rel {
			t.Fatalf("CleanPath(%q) = %q, %v; want %q, true", "/"+rel, again, ok, rel)
		}
	})
}
