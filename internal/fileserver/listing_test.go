package fileserver

import (
	"strings"
	"testing"
)

func TestListing(t *testing.T) {
	root, _ := newTree(t)
	browse := adapt(newModule(t, root, `static { browse = true }`).Wrap(notFound))
	dots := adapt(newModule(t, root, `static {
		browse   = true
		dotfiles = true
	}`).Wrap(notFound))

	tests := []struct {
		name    string
		h       string // "browse" or "dots"
		method  string
		target  string
		has     []string // in the body
		hasNot  []string // not in the body
		inOrder []string // in the body in this order
	}{
		{name: "page", target: "/browse/", has: []string{
			"<!doctype html>", "<title>Index of /browse/</title>", `<meta charset="utf-8">`,
			`<a href="./a.txt">a.txt</a>`, `<a href="./zdir/">zdir/</a>`, `<a href="../">../</a>`,
			`datetime="2024-05-01T12:00:00Z"`, "2024-05-01 12:00",
		}, hasNot: []string{"<script", ".hidden"}},
		{name: "escaped name", target: "/browse/", has: []string{`href="./c%20c&amp;%3Cx%3E.txt"`, `>c c&amp;&lt;x&gt;.txt</a>`}, hasNot: []string{"<x>"}},
		{name: "symlink inside listed with target size", target: "/browse/", has: []string{`<a href="./in">in</a></td><td class="n">4</td>`}},
		{name: "symlink out not listed", target: "/browse/", hasNot: []string{`href="./out"`}},
		{name: "root has no parent link", target: "/", hasNot: []string{`href="../"`, ".secret", ".git", ".well-known"}},
		{name: "head has no body", method: "HEAD", target: "/browse/", hasNot: []string{"<"}},
		{name: "dotfiles listed when allowed", h: "dots", target: "/browse/", has: []string{`href="./.hidden"`}},
		{name: "sort by name", target: "/browse/", inOrder: []string{"zdir/", ">a.txt", ">b.txt", ">c c", ">in<"}},
		{name: "sort by name descending", target: "/browse/?C=N;O=D", inOrder: []string{"zdir/", ">in<", ">c c", ">b.txt", ">a.txt"}},
		{name: "sort by size", target: "/browse/?C=S;O=A", inOrder: []string{"zdir/", ">b.txt", ">c c", ">a.txt", ">in<"}},
		{name: "sort by size descending", target: "/browse/?C=S;O=D", inOrder: []string{"zdir/", ">in<", ">a.txt", ">c c", ">b.txt"}},
		{name: "sort with ampersand", target: "/browse/?C=S&O=D", inOrder: []string{"zdir/", ">in<", ">a.txt", ">c c", ">b.txt"}},
		{name: "bad sort falls back to name", target: "/browse/?C=X;O=Q", inOrder: []string{"zdir/", ">a.txt", ">b.txt"}},
		{name: "header links toggle current column", target: "/browse/?C=N;O=A", has: []string{`href="?C=N;O=D"`, `href="?C=S;O=A"`, `href="?C=M;O=A"`}},
		{name: "header links after descending", target: "/browse/?C=N;O=D", has: []string{`href="?C=N;O=A"`}},
		{name: "listing of empty name", target: "/empty/", has: []string{"keep.txt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := browse
			if tt.h == "dots" {
				h = dots
			}
			method := tt.method
			if method == "" {
				method = "GET"
			}
			w := request(t, h, method, tt.target, nil)
			if w.Code != 200 {
				t.Fatalf("status %d (%s)", w.Code, w.Header().Get("X-Test-Error"))
			}
			if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			body := w.Body.String()
			for _, s := range tt.has {
				if !strings.Contains(body, s) {
					t.Errorf("body lacks %q:\n%s", s, body)
				}
			}
			for _, s := range tt.hasNot {
				if strings.Contains(body, s) {
					t.Errorf("body has %q:\n%s", s, body)
				}
			}
			last := -1
			for _, s := range tt.inOrder {
				i := strings.Index(body, s)
				if i < 0 || i < last {
					t.Errorf("%q out of order in:\n%s", s, body)
				}
				last = i
			}
		})
	}
}

func TestHumanSize(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{{0, "0"}, {1023, "1023"}, {1024, "1.0K"}, {1536, "1.5K"}, {10 << 10, "10K"}, {3 << 20, "3.0M"}, {5 << 30, "5.0G"}} {
		t.Run(tt.want, func(t *testing.T) {
			if got := humanSize(tt.n); got != tt.want {
				t.Errorf("humanSize(%d) = %q, want %q", tt.n, got, tt.want)
			}
		})
	}
}
