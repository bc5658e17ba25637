// Package cgi is the script_alias module: CGI/1.1 (RFC 3875) programs
// under a URL prefix, after Apache's ScriptAlias and mod_cgi and Python's
// CGIHTTPServer.
//
//	script_alias "/cgi-bin/" {
//	  path = "cgi-bin/"
//	}
//
// The first path segment after the prefix names the script, a file
// directly in path; the rest of the URL path is PATH_INFO. Only regular,
// executable files whose real path (symlinks resolved) lies inside path
// are run; dot-files never are.
//
//	script_alias "/git/" {
//	  program = "/usr/lib/git-core/git-http-backend"
//	}
//
// With program instead of path, that one program serves every URL under
// the prefix: SCRIPT_NAME is the prefix without its trailing slash and
// PATH_INFO the rest of the URL path, as with Apache's ScriptAlias to a
// file.
//
// # Why not net/http/cgi
//
// The standard library's host (net/http/cgi.Handler) runs a script per
// request, but it lacks what a server facing the internet needs: it
// cannot stop a script on a timeout or when the client goes away (it has
// no context and kills nothing), it kills only the script's own process,
// never the children it started, it does not flush output as the script
// writes it, it copies the whole request body to stdin before it reads
// any output (so a script cannot answer before its input ends), it skips
// malformed header lines instead of failing the response, and it logs
// through the log package. This package is a host of its own, built on
// the same protocol.
//
// # Processes
//
// Every script is the leader of a new process group (Setpgid) with its
// working directory set to the script's folder, an environment built from
// nothing but PATH, the block's env and the request, and its three
// standard streams on pipes (stdin on /dev/null, opened once and shared,
// for a request without a body). The module starts it with
// syscall.StartProcess rather than os/exec: the child's ends of the pipes
// are plain blocking descriptors that never touch the runtime poller,
// only the server's ends are on it, and nothing needs a copying goroutine
// or a WaitDelay. The leader's pidfd comes from the clone itself
// (CLONE_PIDFD); the module waits on it through the runtime poller,
// without reaping, so that the group id stays reserved while the group is
// signalled, then reaps the leader with wait4. When the script's timeout
// passes, its client goes away, or the server stops, the group gets
// SIGTERM and, KillGrace later (or as soon as a stopping server's time is
// up, registry.Env.Kill), SIGKILL. When the leader exits, anything
// left in its group gets SIGKILL before the leader is reaped, so no
// script leaves orphans or zombies; work meant to outlive a request must
// start its own session (setsid). A script still running KillGrace
// after it closed its output is stopped the same way.
//
// # Streams
//
// stdin is fed from its own goroutine, so a script may answer before it
// has read its input (full duplex; HTTP/1 connections are switched to
// full duplex for it). stdout is parsed for the CGI header block by
// package gateway, which the FastCGI module shares (a script may also
// write an NPH status line and continuation lines), and then copied to
// the client read by read; the response is flushed whenever the pipe is
// empty, so a script that writes a line at a time is seen a line at a
// time, and a burst of output goes out in as few writes as possible.
// stderr goes to the error log a line at a time, tagged with the script
// and the request.
package cgi
