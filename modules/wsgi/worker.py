"""httpd WSGI worker: runs one WSGI application for the httpd server.

The server starts this program with the configured Python as

    python - "httpd wsgi MOUNT (VHOST) worker N"

with the program itself on stdin, so that ps shows a short title, and
hands it inherited sockets: fd 3 is the control socket, fds 4 ..
4+THREADS-1 are request connections, one per thread. The first frame on
the control socket says what to run (script, callable, mount, threads,
processes, virtualenv, python_path). The framing is described in the
package documentation (doc.go): every frame is a 1-byte type and a 4-byte
big-endian length followed by the payload.

Only the standard library is used.
"""

import os
import stat
import struct
import sys
import threading
import time
import traceback
import types

import socket

HDR = struct.Struct('>BI')
pack = HDR.pack
unpack = HDR.unpack

# Server -> worker.
T_REQ = ord('Q')        # request, no body
T_REQ_PUSH = ord('P')   # request, whole body follows in one D frame
T_REQ_STREAM = ord('S')  # request, body pulled with R frames
T_DATA = ord('D')       # body data (empty: end of body)
T_READ_ERR = ord('X')   # reading the body failed
T_FILE_OK = ord('K')    # server took over the file
T_FILE_NO = ord('N')    # server could not open the file: iterate

# Worker -> server.
F_HEADERS = ord('H')
F_BODY = ord('B')
F_FILE = ord('F')
F_END = pack(ord('E'), 0)
F_ERROR = ord('X')
F_LOG = ord('L')
F_READ = ord('R')

C_CONFIG = ord('C')      # server -> worker: what to run
C_STACK = ord('T')       # both ways: the stack of one thread, asked and sent
C_HELLO = ord('V')       # worker -> server: version and executable
C_READY = ord('R')
C_IMPORT_ERROR = ord('I')

MAX_CHUNK = 1 << 20
INLINE = 1 << 16

HOP_BY_HOP = frozenset((
    'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization',
    'te', 'trailer', 'trailers', 'transfer-encoding', 'upgrade',
))


class ReadError(OSError):
    """Reading the request body failed on the server side."""


class Input(object):
    """wsgi.input: a streaming, read-only view of the request body.

    Data is asked from the server only when the application reads, and
    read(n) never asks for more than it still needs.
    """

    __slots__ = ('_read', '_send', '_buf', '_eof', '_left')

    def __init__(self, read, send, buf, eof, length):
        self._read = read
        self._send = send
        self._buf = buf
        self._eof = eof
        self._left = length  # bytes the server may still send, or None

    def _fill(self, want):
        if self._eof:
            return b''
        left = self._left
        if left is not None:
            if left <= 0:
                self._eof = True
                return b''
            if want > left:
                want = left
        if want > MAX_CHUNK:
            want = MAX_CHUNK
        self._send(pack(F_READ, 4) + want.to_bytes(4, 'big'))
        t, n = unpack(self._read(5))
        data = self._read(n) if n else b''
        if t == T_DATA:
            if not data:
                self._eof = True
            elif left is not None:
                self._left = left - len(data)
            return data
        if t == T_READ_ERR:
            self._eof = True
            raise ReadError(data.decode('utf-8', 'replace'))
        raise RuntimeError('wsgi: unexpected frame %r while reading the body' % chr(t))

    def read(self, size=-1):
        buf = self._buf
        if size is None or size < 0:
            parts = [buf] if buf else []
            self._buf = b''
            while True:
                data = self._fill(MAX_CHUNK)
                if not data:
                    return b''.join(parts)
                parts.append(data)
        if len(buf) >= size:
            self._buf = buf[size:]
            return buf[:size]
        parts = [buf] if buf else []
        have = len(buf)
        self._buf = b''
        while have < size:
            data = self._fill(size - have)
            if not data:
                break
            parts.append(data)
            have += len(data)
        return b''.join(parts)

    def readline(self, size=-1):
        if size is None:
            size = -1
        buf = self._buf
        start = 0
        while True:
            i = buf.find(b'\n', start)
            if i >= 0:
                end = i + 1
                if 0 <= size < end:
                    end = size
                self._buf = buf[end:]
                return buf[:end]
            if 0 <= size <= len(buf):
                self._buf = buf[size:]
                return buf[:size]
            want = 8192 if size < 0 else min(8192, size - len(buf))
            data = self._fill(want)
            if not data:
                self._buf = b''
                return buf
            start = len(buf)
            buf = buf + data

    def readlines(self, hint=-1):
        lines = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                return lines

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def close(self):
        pass


class Errors(object):
    """wsgi.errors: text written here goes to the server's error log,
    tagged with the request. Complete lines are sent as they are written;
    flush() sends the rest."""

    __slots__ = ('_send', '_pending', 'done')

    def __init__(self, send):
        self._send = send
        self._pending = ''
        self.done = False

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError('wsgi.errors.write() needs a str, not %s' % type(s).__name__)
        text = self._pending + s
        i = text.rfind('\n')
        if i < 0:
            self._pending = text
        else:
            self._pending = text[i + 1:]
            self._emit(text[:i])
        return len(s)

    def writelines(self, seq):
        for s in seq:
            self.write(s)

    def flush(self):
        if self._pending:
            text, self._pending = self._pending, ''
            self._emit(text)

    def _emit(self, text):
        if self.done:
            sys.stderr.write(text + '\n')
            return
        data = text.encode('utf-8', 'backslashreplace')[:MAX_CHUNK]
        self._send(pack(F_LOG, len(data)) + data)


class FileWrapper(object):
    """wsgi.file_wrapper. When the application returns one over a regular
    file, the server sends the file itself (sendfile) without copying it
    through Python; otherwise it is iterated in blksize chunks."""

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, 'close'):
            self.close = filelike.close

    def __iter__(self):
        read = self.filelike.read
        blksize = self.blksize
        while True:
            data = read(blksize)
            if not data:
                return
            yield data


def check_headers(status, headers):
    """Validates and encodes a start_response status and header list."""
    if type(status) is not str:
        raise TypeError('status must be a str, not %s' % type(status).__name__)
    if len(status) < 4 or not status[:3].isdigit() or status[3] != ' ' or status[0] == '0':
        raise ValueError('malformed status %r: want "200 OK"' % status)
    parts = [status]
    for item in headers:
        name, value = item
        if type(name) is not str or type(value) is not str:
            raise TypeError('header %r: name and value must be str' % (item,))
        if name.lower() in HOP_BY_HOP:
            raise ValueError('hop-by-hop header %r is not allowed in a WSGI response' % name)
        parts.append(name)
        parts.append(value)
    block = '\0'.join(parts)
    if block.count('\0') != len(parts) - 1 or '\n' in block or '\r' in block:
        raise ValueError('status or headers hold a control character: %r' % (parts,))
    return block.encode('latin-1')


def content_length(headers):
    for name, value in headers:
        if name.lower() == 'content-length':
            try:
                return int(value)
            except ValueError:
                return None
    return None


class Request(object):
    """The state of one request on one connection."""

    __slots__ = ('sendall', 'read', 'errors', 'status', 'headers', 'block', 'sent')

    def __init__(self, sendall, read, errors):
        self.sendall = sendall
        self.read = read
        self.errors = errors
        self.status = None
        self.headers = None
        self.block = None
        self.sent = False

    def start_response(self, status, headers, exc_info=None):
        if exc_info:
            try:
                if self.sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError('start_response called a second time without exc_info')
        self.block = check_headers(status, headers)
        self.status = status
        self.headers = headers
        return self.write

    def _head(self):
        if self.status is None:
            raise AssertionError('the application sent body data before calling start_response')
        self.sent = True
        block = self.block
        return pack(F_HEADERS, len(block)) + block

    def write(self, data):
        if type(data) is not bytes:
            raise TypeError('write() needs bytes, not %s' % type(data).__name__)
        head = b'' if self.sent else self._head()
        if data:
            self.send_body(head, data)
        elif head:
            self.sendall(head)

    def send_body(self, head, data):
        n = len(data)
        if n <= INLINE:
            self.sendall(head + pack(F_BODY, n) + data)
            return
        view = memoryview(data)
        if head:
            self.sendall(head)
        for i in range(0, n, MAX_CHUNK):
            part = view[i:i + MAX_CHUNK]
            self.sendall(pack(F_BODY, len(part)))
            self.sendall(part)

    def send_file(self, wrapper):
        """Offers a FileWrapper's file to the server. True when the server
        sent it; False when the wrapper must be iterated instead."""
        f = wrapper.filelike
        try:
            fd = f.fileno()
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return False
            offset = f.tell() if hasattr(f, 'tell') else 0
        except Exception:
            return False
        length = max(st.st_size - offset, 0)
        declared = content_length(self.headers or ())
        if declared is not None and declared < length:
            length = declared
        head = b'' if self.sent else self._head()
        payload = ('/proc/%d/fd/%d\0%d\0%d' % (os.getpid(), fd, offset, length)).encode()
        self.sendall(head + pack(F_FILE, len(payload)) + payload)
        t, n = unpack(self.read(5))
        if n:
            self.read(n)
        return t == T_FILE_OK

    def run(self, app, environ):
        result = None
        failed = None
        try:
            result = app(environ, self.start_response)
            if type(result) is list:
                out = []
                for chunk in result:
                    if type(chunk) is not bytes:
                        raise TypeError('the application yielded %s, not bytes' % type(chunk).__name__)
                    if chunk:
                        if not self.sent:
                            out.append(self._head())
                        out.append(pack(F_BODY, len(chunk)))
                        out.append(chunk)
                if not self.sent:
                    out.append(self._head())
                out.append(F_END)
                self.sendall(b''.join(out))
            else:
                if type(result) is not FileWrapper or not self.send_file(result):
                    sendall = self.sendall
                    for chunk in result:
                        if type(chunk) is not bytes:
                            raise TypeError('the application yielded %s, not bytes' % type(chunk).__name__)
                        if chunk:
                            if self.sent:
                                if len(chunk) <= INLINE:
                                    sendall(pack(F_BODY, len(chunk)) + chunk)
                                else:
                                    self.send_body(b'', chunk)
                            else:
                                self.send_body(self._head(), chunk)
                self.sendall(F_END if self.sent else self._head() + F_END)
        except BaseException as e:
            failed = e
            self.errors.write(traceback.format_exc())
            self.errors.flush()
            summary = (''.join(traceback.format_exception_only(type(e), e)).strip() or type(e).__name__)
            data = summary.encode('utf-8', 'backslashreplace')[:4096]
            try:
                self.sendall(pack(F_ERROR, len(data)) + data)
            except OSError:
                pass
        self.errors.flush()
        self.errors.done = True
        if result is not None and hasattr(result, 'close'):
            try:
                result.close()
            except BaseException:
                sys.stderr.write('wsgi: close() of the response iterable failed:\n' + traceback.format_exc())
        if failed is not None and isinstance(failed, (ConnectionError, BrokenPipeError)):
            raise failed


def serve(sock, app, base):
    """Serves requests on one connection until the server closes it."""
    rf = sock.makefile('rb', 65536)
    read = rf.read
    sendall = sock.sendall
    try:
        while True:
            h = read(5)
            if len(h) < 5:
                return
            t, n = unpack(h)
            data = read(n)
            it = iter(data.decode('latin-1').split('\0'))
            environ = dict(zip(it, it))
            environ.update(base)
            if t == T_REQ:
                inp = Input(read, sendall, b'', True, 0)
            elif t == T_REQ_PUSH:
                _, m = unpack(read(5))
                inp = Input(read, sendall, read(m), True, 0)
            else:
                cl = environ.get('CONTENT_LENGTH')
                inp = Input(read, sendall, b'', False, int(cl) if cl else None)
            errors = Errors(sendall)
            environ['wsgi.input'] = inp
            environ['wsgi.errors'] = errors
            Request(sendall, read, errors).run(app, environ)
    except (ConnectionError, OSError, struct.error):
        return
    finally:
        for f in (rf, sock):
            try:
                f.close()
            except OSError:
                pass


def load(script, name):
    """Runs the script file as a module and returns its callable."""
    modname = '_httpd_wsgi_' + ''.join(c if c.isalnum() else '_' for c in script)
    with open(script, 'rb') as f:
        source = f.read()
    code = compile(source, script, 'exec', dont_inherit=True)
    mod = types.ModuleType(modname)
    mod.__file__ = script
    sys.modules[modname] = mod
    exec(code, mod.__dict__)
    try:
        return getattr(mod, name)
    except AttributeError:
        raise AttributeError('%s defines no callable named %r' % (script, name)) from None


def thread_stack(threads, payload):
    """The stack of worker thread number payload (decimal), innermost
    call last, as a traceback prints it, from the application's first
    call on; at most 65000 characters, the innermost kept."""
    try:
        t = threads[int(payload)]
    except (ValueError, IndexError):
        return 'no thread %r' % payload
    frame = sys._current_frames().get(t.ident)
    if frame is None:
        return 'thread %s is not running' % t.name
    frames = traceback.extract_stack(frame)
    # The application's calls start after the worker's own (run).
    for i in range(len(frames) - 1, -1, -1):
        if frames[i].filename == '<stdin>':
            frames = frames[i + 1:]
            break
    text = 'Stack of thread %s (most recent call last):\n%s' % (
        t.name, ''.join(traceback.format_list(frames)))
    return text[-65000:]


def recv_exactly(sock, n):
    """Reads n bytes from sock; EOFError if it closes first."""
    parts = []
    while n > 0:
        data = sock.recv(n)
        if not data:
            raise EOFError('the server closed the control socket')
        parts.append(data)
        n -= len(data)
    return b''.join(parts)


def read_config(ctrl):
    """Reads the configuration frame: NUL-separated key/value pairs."""
    t, n = unpack(recv_exactly(ctrl, 5))
    if t != C_CONFIG:
        raise ValueError('wsgi: expected the configuration frame, got %r' % chr(t))
    conf = {'python_path': []}
    it = iter(recv_exactly(ctrl, n).split(b'\0'))
    for k, v in zip(it, it):
        k, v = k.decode('ascii'), os.fsdecode(v)
        if k == 'python_path':
            conf[k].append(v)
        else:
            conf[k] = v
    return conf


def main():
    ctrl = socket.socket(fileno=3)
    try:
        conf = read_config(ctrl)
    except (OSError, EOFError, ValueError, struct.error):
        # The server no longer wants this worker, or is not the one
        # that wrote this program.
        os._exit(2)
    script, callable_name = conf['script'], conf['callable']
    nthreads, nprocs = int(conf['threads']), int(conf['processes'])
    venv = conf['virtualenv']
    ppid = os.getppid()
    sys.argv = [script]

    path = [p for p in sys.path if p not in ('', '.')]
    sys.path[:] = [os.path.dirname(script)] + conf['python_path'] + path
    if venv:
        import glob
        import site
        for d in sorted(glob.glob(os.path.join(venv, 'lib', 'python*', 'site-packages'))):
            site.addsitedir(d)

    def report(kind, text):
        data = text.encode('utf-8', 'backslashreplace')
        try:
            ctrl.sendall(pack(kind, len(data)) + data)
        except OSError:
            # The server no longer wants this worker.
            os._exit(0)

    report(C_HELLO, '%s\0%s' % (sys.version.split()[0], sys.executable))
    try:
        app = load(script, callable_name)
    except BaseException:
        report(C_IMPORT_ERROR, traceback.format_exc())
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(3)
    if conf.get('check') == '1':
        # httpd -t: the application loads; nothing is served.
        report(C_READY, str(os.getpid()))
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    base = {
        'wsgi.version': (1, 0),
        'wsgi.multithread': nthreads > 1,
        'wsgi.multiprocess': nprocs > 1,
        'wsgi.run_once': False,
        'wsgi.file_wrapper': FileWrapper,
        'wsgi.input_terminated': True,
    }
    threads = []
    for i in range(nthreads):
        s = socket.socket(fileno=4 + i)
        t = threading.Thread(target=serve, args=(s, app, base), name='wsgi-%d' % i, daemon=True)
        t.start()
        threads.append(t)
    report(C_READY, str(os.getpid()))

    # Answer stack requests until the server closes the control socket
    # (stop), checking that the server is still our parent.
    ctrl.settimeout(1.0)
    pending = b''
    while True:
        try:
            data = ctrl.recv(4096)
            if not data:
                break
        except socket.timeout:
            if os.getppid() != ppid:
                os._exit(1)
            continue
        except OSError:
            break
        pending += data
        while len(pending) >= 5:
            t, n = unpack(pending[:5])
            if len(pending) < 5 + n:
                break
            payload, pending = pending[5:5 + n], pending[5 + n:]
            if t == C_STACK:
                report(C_STACK, thread_stack(threads, payload))
    ctrl.close()
    deadline = time.monotonic() + 5
    for t in threads:
        t.join(max(deadline - time.monotonic(), 0))
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(0)


main()
