package wsgi

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"httpd/internal/pyworker"

	"github.com/hashicorp/hcl/v2"
)

// CheckTimeout bounds CheckImport when its context has no deadline.
const CheckTimeout = 30 * time.Second

// checkTailLines is how many lines of a traceback a diagnostic quotes.
const checkTailLines = 8

// CheckImport loads the application once in a throwaway worker, with
// the block's python, python_path, virtualenv and env, as httpd -t does:
// the worker imports the script, looks up the callable and exits
// without serving. A failure is one error diagnostic pointing at the
// Python file and line where it happened, quoting the traceback's last
// lines; nil means the application loads. It gives up (and kills the
// worker's process group) when ctx ends, or after CheckTimeout.
func (m *Module) CheckImport(ctx context.Context) hcl.Diagnostics {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, CheckTimeout)
		defer cancel()
	}
	python, err := pyworker.LookPython(m.Python)
	if err != nil {
		return nil // Validate reports it
	}
	tb, err := m.runCheck(ctx, python)
	switch {
	case err != nil:
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "WSGI application not checked",
			Detail:   fmt.Sprintf("%s %s: %v. Run httpd -t -no-import to skip the import check.", m.Script, m.Prefix, err),
			Subject:  m.DefRange.Ptr(),
		}}
	case tb == "":
		return nil
	}
	return hcl.Diagnostics{importDiagnostic(m, tb)}
}

// runCheck runs the worker in check mode and returns the traceback of a
// failed import, "" when the application loaded, or an error when the
// worker could not tell.
func (m *Module) runCheck(ctx context.Context, python string) (string, error) {
	ctrl, child, err := pyworker.SocketPair("wsgi-check")
	if err != nil {
		return "", err
	}
	defer ctrl.Close()
	cfg, err := workerConfig(m)
	if err != nil {
		child.Close()
		return "", err
	}
	cfg = appendPair(cfg, "check", "1")
	setFrameLength(cfg, 0)
	if _, err := ctrl.Write(cfg); err != nil {
		child.Close()
		return "", fmt.Errorf("control socket: %w", err)
	}
	var out pyworker.TailBuffer
	cmd := exec.Command(python, "-", "httpd wsgi "+pyworker.TitleField(m.Prefix)+" import check")
	cmd.Stdin = strings.NewReader(workerPy)
	cmd.Dir = filepath.Dir(m.Script)
	cmd.Env = pyworker.Env(m.Virtualenv, m.Env)
	cmd.ExtraFiles = []*os.File{child}
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	child.Close()
	if err != nil {
		return "", fmt.Errorf("start %s: %w", python, err)
	}
	pid := cmd.Process.Pid
	defer func() { _ = syscall.Kill(-pid, syscall.SIGKILL) }()
	stop := context.AfterFunc(ctx, func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
	defer stop()

	br := bufio.NewReader(ctrl)
	typ, payload, _, err := readFrame(br, nil)
	if err == nil && typ == ctrlHello {
		typ, payload, _, err = readFrame(br, nil)
	}
	werr := cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return "", fmt.Errorf("the application did not finish loading within the check's time (%v)", context.Cause(ctx))
	case err == nil && typ == ctrlReady:
		return "", nil
	case err == nil && typ == ctrlImportError:
		return string(payload), nil
	}
	msg := strings.TrimSpace(out.String())
	if msg == "" {
		msg = exitError(werr)
	}
	if strings.Contains(msg, "Traceback") {
		// The worker program itself failed, before it could report.
		return msg, nil
	}
	return "", fmt.Errorf("the worker exited without reporting (%s)", pyworker.LastLine(msg))
}

// importDiagnostic turns an import traceback into a diagnostic at the
// innermost frame in a real file (not "<frozen ...>" or "<stdin>"), or
// at the block when there is none.
func importDiagnostic(m *Module, tb string) *hcl.Diagnostic {
	d := &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "WSGI application failed to import",
		Subject:  m.DefRange.Ptr(),
	}
	if file, line, ok := pyworker.TracebackSite(tb); ok {
		pos := hcl.Pos{Line: line, Column: 1}
		d.Subject = &hcl.Range{Filename: file, Start: pos, End: pos}
	}
	d.Detail = fmt.Sprintf("%s (wsgi_script_alias %q at %s:%d loads %s). Traceback, last lines:\n%s\nFix the application, or run httpd -t -no-import to skip this check.",
		pyworker.LastLine(tb), m.Prefix, m.DefRange.Filename, m.DefRange.Start.Line, m.Script, pyworker.TracebackTail(tb, checkTailLines))
	return d
}
