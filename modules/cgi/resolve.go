package cgi

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"httpd/registry"
)

// resolve maps the request's URL path, which the router matched to mt,
// to a script under m.Path. Every failure is a *registry.StatusError (404
// or 403) whose text says why, for the error log.
func (m *Module) resolve(mt registry.Mount, urlPath, escapedPath string) (*script, error) {
	rest := strings.TrimPrefix(mt.Path, "/")
	notFound := func(why string) error {
		return registry.Error(404, fmt.Errorf("cgi %s: %s: %s", m.Path, urlPath, why))
	}
	lower := strings.ToLower(escapedPath)
	switch {
	case strings.Contains(lower, "%2f"), strings.Contains(lower, "%5c"), strings.Contains(lower, "%00"):
		return nil, notFound("encoded slash, backslash or NUL in the URL")
	case strings.ContainsAny(rest, "\\\x00"):
		return nil, notFound("backslash or NUL in the URL")
	}
	for _, seg := range strings.Split(rest, "/") {
		if seg == "." || seg == ".." {
			return nil, notFound("dot segment in the URL")
		}
	}
	if rest == "" {
		return nil, registry.Error(403, fmt.Errorf("cgi %s: %s: the URL names the script folder, not a script", m.Path, urlPath))
	}
	name, info, hasInfo := strings.Cut(rest, "/")
	switch {
	case name == "":
		return nil, notFound("empty script name")
	case name[0] == '.':
		return nil, notFound("dot-files are not run")
	}
	s := &script{
		Name:     name,
		URLName:  mt.ScriptName + "/" + name,
		Filename: filepath.Join(m.Path, name),
	}
	if hasInfo {
		s.PathInfo = "/" + info
	}

	// m.root has no symlinks (Provision resolved them), so only the
	// script's own name can be one.
	exe := filepath.Join(m.root, name)
	st, err := os.Lstat(exe)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, notFound("no such script")
		}
		return nil, registry.Error(403, fmt.Errorf("cgi %s: %w", s.Filename, err))
	}
	if st.Mode()&fs.ModeSymlink != 0 {
		if exe, err = filepath.EvalSymlinks(exe); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, notFound("no such script (or a broken symlink)")
			}
			return nil, registry.Error(403, fmt.Errorf("cgi %s: %w", s.Filename, err))
		}
		if !strings.HasPrefix(exe, m.root+string(filepath.Separator)) {
			return nil, notFound("symlink leads outside the script folder to " + exe)
		}
		if st, err = os.Stat(exe); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, notFound("no such script")
			}
			return nil, registry.Error(403, fmt.Errorf("cgi %s: %w", s.Filename, err))
		}
	}
	s.Exe = exe
	forbidden := func(why string) error {
		return registry.Error(403, fmt.Errorf("cgi %s: %s", s.Filename, why))
	}
	switch {
	case st.IsDir():
		return nil, forbidden("is a directory, not a script")
	case !st.Mode().IsRegular():
		return nil, forbidden("is not a regular file")
	case st.Mode().Perm()&0o111 == 0:
		return nil, forbidden(fmt.Sprintf("not executable (mode %04o)", st.Mode().Perm()))
	}
	if err := unix.Access(exe, unix.X_OK); err != nil {
		return nil, forbidden("not executable by the server: " + err.Error())
	}
	return s, nil
}

// startStatus maps an error from start to what the client gets.
func startStatus(err error) error {
	switch {
	case errors.Is(err, errStopping):
		return registry.Error(503, err)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return registry.Error(403, fmt.Errorf("%w (is the file system mounted noexec?)", err))
	case errors.Is(err, syscall.ENOENT):
		return registry.Error(500, fmt.Errorf("%w (is the #! interpreter missing?)", err))
	case errors.Is(err, syscall.ENOEXEC):
		return registry.Error(500, fmt.Errorf("%w (a script needs a #! line)", err))
	}
	return registry.Error(500, err)
}
