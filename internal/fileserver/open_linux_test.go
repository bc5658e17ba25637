package fileserver

import (
	"os"
	"path/filepath"
	"testing"

	"httpd/registry"
)

// TestOpenBeneathMatchesRoot opens every name of the test tree, and some
// that lead out or do not exist, with openBeneath and with os.Root: both
// must open the same file or both must refuse.
func TestOpenBeneathMatchesRoot(t *testing.T) {
	root, _ := newTree(t)
	d, err := openDirHandle(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	if !d.openat2 {
		t.Skip("openat2(2) is not available here")
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	names := []string{".", "missing", "missing/x", "hello.txt/x", "sub/../hello.txt", "../outside/secret.txt"}
	filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err == nil && p != root {
			rel, _ := filepath.Rel(root, p)
			names = append(names, rel, rel+"/x", rel+"/target.txt", rel+"/secret.txt")
		}
		return nil
	})
	for _, name := range names {
		want, werr := r.Open(name)
		got, gerr := d.openBeneath(name, root+"/")
		if gerr == errUseRoot {
			t.Errorf("%s: openBeneath asked for os.Root", name)
			continue
		}
		switch {
		case (werr == nil) != (gerr == nil):
			t.Errorf("%s: os.Root: %v; openBeneath: %v", name, werr, gerr)
		case werr == nil:
			wi, _ := want.Stat()
			gi, _ := got.Stat()
			if !os.SameFile(wi, gi) {
				t.Errorf("%s: openBeneath opened another file than os.Root", name)
			}
			if got.Name() != want.Name() {
				t.Errorf("%s: named %q, os.Root names it %q", name, got.Name(), want.Name())
			}
		default:
			// The status the client gets must not change either.
			if ws, gs := openError(name, werr), openError(name, gerr); registry.StatusOf(ws) != registry.StatusOf(gs) {
				t.Errorf("%s: status %d through openBeneath (%v), %d through os.Root (%v)", name, registry.StatusOf(gs), gerr, registry.StatusOf(ws), werr)
			}
		}
		for _, f := range []*os.File{want, got} {
			if f != nil {
				f.Close()
			}
		}
	}
	// A symlink out is refused by the kernel (EXDEV), and said so.
	if _, err := d.openBeneath("link-out.txt", root+"/"); err != errLeadsOut {
		t.Errorf("link-out.txt: %v, want %v", err, errLeadsOut)
	}
}
