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
// to a script under m.Path, or to m.Program. Every failure is a
// *registry.StatusError (404 or 403) whose text says why, for the error
// log.
func (m *Module) resolve(mt registry.Mount, urlPath, escapedPath string) (*script, error) {
	rest := strings.TrimPrefix(mt.Path, "/")
	notFound := func(why string) error {
		return registry.Error(404, fmt.Errorf("cgi %s: %s: %s", m.target(), urlPath, why))
	}
	if why := checkURL(rest, escapedPath); why != "" {
		return nil, notFound(why)
	}
	if m.Program != "" {
		return m.resolveProgram(mt, notFound)
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
	if err := checkRunnable(s, st); err != nil {
		return nil, err
	}
	return s, nil
}

// checkURL says why the part of a URL path after the mount's prefix,
// rest (decoded), cannot name anything to run, or "". escapedPath is the
// whole path as sent.
func checkURL(rest, escapedPath string) string {
	lower := strings.ToLower(escapedPath)
	switch {
	case strings.Contains(lower, "%2f"), strings.Contains(lower, "%5c"), strings.Contains(lower, "%00"):
		return "encoded slash, backslash or NUL in the URL"
	case strings.ContainsAny(rest, "\\\x00"):
		return "backslash or NUL in the URL"
	}
	for _, seg := range strings.Split(rest, "/") {
		if seg == "." || seg == ".." {
			return "dot segment in the URL"
		}
	}
	return ""
}

// resolveProgram maps a request to the mount's one program: SCRIPT_NAME
// is the prefix without its trailing slash and PATH_INFO the rest of the
// path, as Apache's ScriptAlias to a file does (RFC 3875 §4.1.5, §4.1.13).
func (m *Module) resolveProgram(mt registry.Mount, notFound func(string) error) (*script, error) {
	s := &script{
		Name:     filepath.Base(m.Program),
		URLName:  mt.ScriptName,
		PathInfo: mt.Path,
		Filename: m.Program,
		Exe:      m.root,
	}
	st, err := os.Stat(s.Exe)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, notFound("no such program " + s.Exe)
		}
		return nil, registry.Error(403, fmt.Errorf("cgi %s: %w", s.Filename, err))
	}
	if err := checkRunnable(s, st); err != nil {
		return nil, err
	}
	return s, nil
}

// checkRunnable is the 403 for a script that is no executable regular
// file, or nil. st describes s.Exe.
func checkRunnable(s *script, st fs.FileInfo) error {
	forbidden := func(why string) error {
		return registry.Error(403, fmt.Errorf("cgi %s: %s", s.Filename, why))
	}
	switch {
	case st.IsDir():
		return forbidden("is a directory, not a script")
	case !st.Mode().IsRegular():
		return forbidden("is not a regular file")
	case st.Mode().Perm()&0o111 == 0:
		return forbidden(fmt.Sprintf("not executable (mode %04o)", st.Mode().Perm()))
	}
	if err := unix.Access(s.Exe, unix.X_OK); err != nil {
		return forbidden("not executable by the server: " + err.Error())
	}
	return nil
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
