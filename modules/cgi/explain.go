package cgi

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"httpd/registry"
)

// Explain says which script the request runs, with what SCRIPT_NAME and
// PATH_INFO, or why it gets 403 or 404. It looks only at the file
// system; the status of a script that runs is the script's to choose.
func (m *Module) Explain(r *http.Request, mt registry.Mount) registry.Explanation {
	end := func(status int, format string, args ...any) registry.Explanation {
		return registry.Explanation{Says: fmt.Sprintf(format, args...), Status: status, Ends: true}
	}
	rest := strings.TrimPrefix(mt.Path, "/")
	if why := checkURL(rest, r.URL.EscapedPath()); why != "" {
		return end(http.StatusNotFound, "refuses the URL: %s (404)", why)
	}
	var name, filename, pathInfo, urlName string
	if m.Program != "" {
		name, filename, pathInfo, urlName = filepath.Base(m.Program), m.Program, mt.Path, mt.ScriptName
	} else {
		if rest == "" {
			return end(http.StatusForbidden, "the URL names the script folder %s itself, not a script (403)", m.Path)
		}
		var info string
		var hasInfo bool
		name, info, hasInfo = strings.Cut(rest, "/")
		if name == "" {
			return end(http.StatusNotFound, "the script name is empty (404)")
		}
		if name[0] == '.' {
			return end(http.StatusNotFound, "%q is a dot-file, and dot-files are not run (404)", name)
		}
		filename, urlName = filepath.Join(m.Path, name), mt.ScriptName+"/"+name
		if hasInfo {
			pathInfo = "/" + info
		}
	}
	if why, status := m.explainRunnable(filename); why != "" {
		return end(status, "%s (%d)", why, status)
	}
	t := "no time limit"
	if m.Timeout > 0 {
		t = "killed after " + m.Timeout.String()
	}
	return end(0, "runs the CGI program %s with SCRIPT_NAME=%q and PATH_INFO=%q (%s, at most %d at a time); the script chooses the status",
		filename, urlName, pathInfo, t, m.MaxProcesses)
}

// explainRunnable says why filename cannot run, with the status, or "".
// In a script folder it may be a symlink only to a file inside the
// folder.
func (m *Module) explainRunnable(filename string) (string, int) {
	exe := filename
	if m.Program == "" {
		root, err := filepath.EvalSymlinks(m.Path)
		if err != nil {
			return fmt.Sprintf("the script folder %s cannot be read: %v", m.Path, unwrapPathError(err)), http.StatusInternalServerError
		}
		exe = filepath.Join(root, filepath.Base(filename))
		st, err := os.Lstat(exe)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Sprintf("there is no script %s", filename), http.StatusNotFound
		case err != nil:
			return fmt.Sprintf("%s cannot be read: %v", filename, unwrapPathError(err)), http.StatusForbidden
		case st.Mode()&fs.ModeSymlink != 0:
			target, err := filepath.EvalSymlinks(exe)
			if err != nil {
				return fmt.Sprintf("%s is a broken symlink", filename), http.StatusNotFound
			}
			if !strings.HasPrefix(target, root+string(filepath.Separator)) {
				return fmt.Sprintf("%s is a symlink that leads outside the script folder, to %s", filename, target), http.StatusNotFound
			}
			exe = target
		}
	}
	st, err := os.Stat(exe)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("there is no program %s", filename), http.StatusNotFound
	case err != nil:
		return fmt.Sprintf("%s cannot be read: %v", filename, unwrapPathError(err)), http.StatusForbidden
	case st.IsDir():
		return fmt.Sprintf("%s is a directory, not a script", filename), http.StatusForbidden
	case !st.Mode().IsRegular():
		return fmt.Sprintf("%s is not a regular file", filename), http.StatusForbidden
	case st.Mode().Perm()&0o111 == 0:
		return fmt.Sprintf("%s is not executable (mode %04o): chmod +x it", filename, st.Mode().Perm()), http.StatusForbidden
	}
	if err := unix.Access(exe, unix.X_OK); err != nil {
		return fmt.Sprintf("%s is not executable by this user: %v", filename, err), http.StatusForbidden
	}
	return "", 0
}

var _ registry.Explainer = (*Module)(nil)
