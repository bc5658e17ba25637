"""httpd ASGI worker: runs one ASGI application for the httpd server.

The server starts this program with the configured Python as

    python - "httpd asgi MOUNT (VHOST) worker N"

with the program itself on stdin, so that ps shows a short title, and
hands it two inherited sockets: fd 3 is the control socket, fd 4 the data
socket on which every request of this worker travels, multiplexed by
stream id. The first frame on the control socket says what to run. The
framing is described in the package documentation (doc.go).

One asyncio event loop serves every request. Only the standard library
is used.
"""

import asyncio
import faulthandler
import importlib
import inspect
import linecache
import os
import signal
import socket
import struct
import sys
import traceback

HDR = struct.Struct('>BII')
pack = HDR.pack
unpack_from = HDR.unpack_from
U32 = struct.Struct('>I')
U16 = struct.Struct('>H')

# Server -> worker.
T_REQUEST = ord('Q')
T_DATA = ord('D')
T_DISCONNECT = ord('C')
T_CANCEL = ord('K')
# Worker -> server.
F_START = ord('H')
F_BODY = ord('B')
F_READ = ord('R')
F_END = ord('E')
F_LOG = ord('L')
F_ACCEPT = ord('A')
F_CLOSE = ord('X')
# Both ways.
T_MESSAGE = ord('W')
T_ACK = ord('a')

C_CONFIG = ord('C')
C_HELLO = ord('V')
C_READY = ord('R')
C_FAILED = ord('I')

MAX_FRAME = 4 << 20
WINDOW = 256 << 10
READ_CHUNK = 64 << 10

ASGI = {'version': '3.0', 'spec_version': '2.3'}
MORE = b'\x01'
LAST = b'\x00'


class ClientDisconnected(OSError):
    """send() after the client went away (ASGI: an OSError)."""


def task_stack(task):
    """Formats where a task waits: the chain of coroutines it awaits."""
    out = []
    coro = task.get_coro()
    while coro is not None:
        frame = getattr(coro, 'cr_frame', None) or getattr(coro, 'gi_frame', None)
        if frame is not None:
            code = frame.f_code
            out.append('  File "%s", line %d, in %s\n' % (code.co_filename, frame.f_lineno, code.co_name))
            line = linecache.getline(code.co_filename, frame.f_lineno).strip()
            if line:
                out.append('    %s\n' % line)
        coro = getattr(coro, 'cr_await', None) or getattr(coro, 'gi_yieldfrom', None)
    return ''.join(out) or '  (no Python frames)\n'


def encode_headers(headers, out):
    for h in headers:
        name, value = h[0], h[1]
        if type(name) is not bytes:
            name = bytes(name)
        if type(value) is not bytes:
            value = bytes(value)
        if b'\0' in name or b'\0' in value:
            raise ValueError('header %r holds a NUL byte' % (name,))
        out.append(name)
        out.append(value)


class Conn(asyncio.BufferedProtocol):
    """The data socket: frames in, frames out, streams by id."""

    def __init__(self, loop, sock, app, state):
        self.loop = loop
        self.sock = sock
        self.app = app
        self.state = state
        self.streams = {}
        self.transport = None
        self.rbuf = bytearray(READ_CHUNK * 4)
        self.rlen = 0
        self.need = 0
        self.paused = False
        self.drain_waiters = []
        self.closed = loop.create_future()
        self.out = []
        self.flush_soon = False
        self.spawned = False  # buffer_updated started a task

    # asyncio.BufferedProtocol: the transport reads straight into rbuf,
    # so no read allocates (a plain Protocol gets a fresh bytes object
    # of up to 256 KiB per read, which malloc serves with mmap and
    # munmap: a fifth of the worker's time under load).
    def connection_made(self, transport):
        self.transport = transport

    def get_buffer(self, sizehint):
        if len(self.rbuf) - self.rlen < READ_CHUNK // 4:
            # Never resized in place: the transport may still hold a
            # view of the old buffer.
            nb = bytearray(max(len(self.rbuf), self.need, READ_CHUNK))
            nb[:self.rlen] = self.rbuf[:self.rlen]
            self.rbuf = nb
        return memoryview(self.rbuf)[self.rlen:]

    def buffer_updated(self, nbytes):
        self.rlen += nbytes
        buf = self.rbuf
        n = self.rlen
        pos = 0
        streams = self.streams
        while n - pos >= 9:
            t, sid, ln = unpack_from(buf, pos)
            end = pos + 9 + ln
            if end > n:
                # Room for the whole frame by the next read.
                self.need = 9 + ln + READ_CHUNK
                break
            payload = bytes(buf[pos + 9:end])
            pos = end
            if t == T_REQUEST:
                self.start(sid, payload)
                continue
            s = streams.get(sid)
            if s is not None:
                s.frame(t, payload)
        if self.spawned and not self.flush_soon:
            # The tasks just created run in the loop's next turn; a flush
            # queued behind them sends their answers in that same turn,
            # not one turn (and one more poll) later.
            self.flush_soon = True
            self.loop.call_soon(self.flush)
        self.spawned = False
        if pos:
            rest = n - pos
            if rest:
                buf[:rest] = buf[pos:n]
            elif len(buf) > READ_CHUNK * 4:
                # A large frame grew the buffer; give the memory back.
                self.rbuf = bytearray(READ_CHUNK * 4)
            self.rlen = rest

    def connection_lost(self, exc):
        for s in list(self.streams.values()):
            s.frame(T_DISCONNECT, b'\x03\xe9')
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self):
        self.paused = True

    def resume_writing(self):
        self.paused = False
        w, self.drain_waiters = self.drain_waiters, []
        for f in w:
            if not f.done():
                f.set_result(None)

    def eof_received(self):
        return False

    async def drain(self):
        if self.out:
            self.flush()
        if self.paused:
            f = self.loop.create_future()
            self.drain_waiters.append(f)
            await f

    def write(self, data):
        # Frames written in one turn of the event loop go out in one
        # write: a response's last body and its end frame, and the
        # frames of other streams alike.
        self.out.append(data)
        if not self.flush_soon:
            self.flush_soon = True
            self.loop.call_soon(self.flush)

    def flush(self):
        self.flush_soon = False
        out = self.out
        if not out:
            return
        data = out[0] if len(out) == 1 else b''.join(out)
        out.clear()
        if not self.transport.is_closing():
            self.transport.write(data)

    def log(self, sid, text):
        data = text.encode('utf-8', 'backslashreplace')[:MAX_FRAME]
        self.write(pack(F_LOG, sid, len(data)) + data)

    def start(self, sid, payload):
        f = payload.split(b'\0')
        typ = f[0].decode()
        headers = []
        it = iter(f[13:-1])
        headers = list(zip(it, it))
        if f[11]:
            server = (f[11].decode(), int(f[12]))
        else:
            server = None
        client = (f[9].decode(), int(f[10])) if f[10] else None
        scope = {
            'type': typ,
            'asgi': ASGI,
            'http_version': f[2].decode(),
            'scheme': f[4].decode(),
            'path': f[5].decode('utf-8', 'replace'),
            'raw_path': f[6],
            'query_string': f[7],
            'root_path': f[8].decode('utf-8', 'replace'),
            'headers': headers,
            'client': client,
            'server': server,
            'extensions': {},
        }
        if self.state is not None:
            scope['state'] = self.state.copy()
        if typ == 'websocket':
            subs = []
            for k, v in headers:
                if k == b'sec-websocket-protocol':
                    subs.extend(x.strip() for x in v.decode('latin-1').split(',') if x.strip())
            scope['subprotocols'] = subs
            scope['extensions'] = {'websocket.http.response': {}}
            s = WebSocket(self, sid)
        else:
            scope['method'] = f[3].decode()
            s = HTTP(self, sid, f[1])
        self.streams[sid] = s
        s.task = self.loop.create_task(self.run(s, scope), name='asgi request')
        self.spawned = True

    async def run(self, s, scope):
        err = b''
        try:
            await self.app(scope, s.receive, s.send)
        except asyncio.CancelledError:
            err = b'cancelled (request_timeout)'
        except BaseException as e:
            if not (s.gone and isinstance(e, OSError)):
                self.log(s.sid, 'asgi: application error in %s %s:\n%s' % (
                    scope.get('method', 'WEBSOCKET'), scope['path'], traceback.format_exc()))
                err = (''.join(traceback.format_exception_only(type(e), e)).strip()
                       or type(e).__name__).encode('utf-8', 'backslashreplace')[:4096]
                if not err:
                    err = b'error'
        finally:
            self.streams.pop(s.sid, None)
            s.done()
        self.write(pack(F_END, s.sid, len(err)) + err)


class Stream(object):
    __slots__ = ('conn', 'sid', 'task', 'q', 'waiter', 'gone', 'unacked', 'ack_waiter')

    def __init__(self, conn, sid):
        self.conn = conn
        self.sid = sid
        self.task = None
        self.q = []
        self.waiter = None
        self.gone = False
        self.unacked = 0
        self.ack_waiter = None

    def wake(self):
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    def wake_ack(self):
        w = self.ack_waiter
        if w is not None and not w.done():
            w.set_result(None)

    def done(self):
        self.gone = True

    def cancel(self):
        if self.task is not None:
            self.conn.log(self.sid, 'asgi: request_timeout: cancelling the task; where it waits '
                          '(most recent call last):\n' + task_stack(self.task))
            self.task.cancel()

    async def window(self, n):
        self.unacked += n
        while self.unacked > WINDOW and not self.gone:
            self.ack_waiter = self.conn.loop.create_future()
            await self.ack_waiter
        await self.conn.drain()


class HTTP(Stream):
    __slots__ = ('mode', 'pulling', 'body_done', 'started', 'complete', 'head')

    def __init__(self, conn, sid, mode):
        Stream.__init__(self, conn, sid)
        self.mode = mode
        self.pulling = False
        self.body_done = mode != b'1'
        self.started = False
        self.complete = False
        self.head = None
        if mode == b'0':
            self.q.append({'type': 'http.request', 'body': b'', 'more_body': False})

    def frame(self, t, payload):
        if t == T_DATA:
            more = payload[:1] == MORE
            self.pulling = False
            if not more:
                self.body_done = True
            self.q.append({'type': 'http.request', 'body': payload[1:], 'more_body': more})
            self.wake()
        elif t == T_ACK:
            self.unacked -= U32.unpack(payload)[0]
            if self.unacked <= WINDOW:
                self.wake_ack()
        elif t == T_DISCONNECT:
            self.gone = True
            self.wake()
            self.wake_ack()
        elif t == T_CANCEL:
            self.gone = True
            self.cancel()

    async def receive(self):
        while True:
            q = self.q
            if q:
                return q.pop(0)
            if self.gone or self.complete:
                return {'type': 'http.disconnect'}
            if not self.body_done and not self.pulling:
                self.pulling = True
                self.conn.write(pack(F_READ, self.sid, 4) + U32.pack(READ_CHUNK))
            self.waiter = self.conn.loop.create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None

    async def send(self, message):
        if self.gone:
            raise ClientDisconnected('the client went away')
        t = message['type']
        if t == 'http.response.body':
            if not self.started:
                raise RuntimeError('http.response.body before http.response.start')
            if self.complete:
                raise RuntimeError('http.response.body after the response completed')
            body = message.get('body', b'')
            more = message.get('more_body', False)
            parts = []
            if self.head is not None:
                parts.append(self.head)
                self.head = None
            flag = MORE if more else LAST
            if len(body) < MAX_FRAME:
                parts.append(pack(F_BODY, self.sid, len(body) + 1))
                parts.append(flag)
                parts.append(body)
            else:
                mv = memoryview(body)
                for i in range(0, len(body), MAX_FRAME - 1):
                    chunk = mv[i:i + MAX_FRAME - 1]
                    last = i + MAX_FRAME - 1 >= len(body)
                    parts.append(pack(F_BODY, self.sid, len(chunk) + 1))
                    parts.append(flag if last else MORE)
                    parts.append(chunk)
            self.conn.write(b''.join(parts))
            if more:
                await self.window(len(body))
            else:
                self.complete = True
                self.wake()
        elif t == 'http.response.start':
            if self.started:
                raise RuntimeError('http.response.start sent twice')
            self.started = True
            out = [b'%d' % message['status']]
            encode_headers(message.get('headers', ()), out)
            data = b'\0'.join(out)
            self.head = pack(F_START, self.sid, len(data)) + data
            if message.get('trailers'):
                pass
        else:
            raise RuntimeError('unknown ASGI message type %r for an HTTP request' % (t,))


class WebSocket(Stream):
    __slots__ = ('connected', 'state', 'closed_code')

    def __init__(self, conn, sid):
        Stream.__init__(self, conn, sid)
        self.connected = False
        self.state = 0  # 0 connecting, 1 accepted, 2 closed, 3 http response
        self.closed_code = 1000
        self.q.append({'type': 'websocket.connect'})

    def frame(self, t, payload):
        if t == T_MESSAGE:
            if payload[:1] == b'\x00':
                m = {'type': 'websocket.receive', 'text': payload[1:].decode('utf-8', 'replace')}
            else:
                m = {'type': 'websocket.receive', 'bytes': payload[1:]}
            self.q.append(m)
            self.wake()
        elif t == T_ACK:
            self.unacked -= U32.unpack(payload)[0]
            if self.unacked <= WINDOW:
                self.wake_ack()
        elif t == T_DISCONNECT:
            code = U16.unpack(payload[:2])[0] if len(payload) >= 2 else 1005
            self.q.append({'type': 'websocket.disconnect', 'code': code})
            self.gone = True
            self.wake()
            self.wake_ack()
        elif t == T_CANCEL:
            self.gone = True
            self.cancel()

    async def receive(self):
        while True:
            q = self.q
            if q:
                m = q.pop(0)
                if m['type'] == 'websocket.receive':
                    self.conn.write(pack(T_ACK, self.sid, 4) + U32.pack(1))
                return m
            if self.gone:
                return {'type': 'websocket.disconnect', 'code': 1006}
            if self.state == 2:
                return {'type': 'websocket.disconnect', 'code': self.closed_code}
            self.waiter = self.conn.loop.create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None

    async def send(self, message):
        t = message['type']
        if self.gone or self.state == 2:
            raise ClientDisconnected('the WebSocket is closed')
        if t == 'websocket.send':
            if self.state != 1:
                raise RuntimeError('websocket.send before websocket.accept')
            text = message.get('text')
            if text is not None:
                data = b'\x00' + text.encode('utf-8')
            else:
                data = b'\x01' + bytes(message.get('bytes') or b'')
            if len(data) > MAX_FRAME:
                raise ValueError('WebSocket message larger than 4 MiB')
            self.conn.write(pack(T_MESSAGE, self.sid, len(data)) + data)
            await self.window(len(data))
        elif t == 'websocket.accept':
            if self.state != 0:
                raise RuntimeError('websocket.accept sent twice or after a response')
            self.state = 1
            out = [(message.get('subprotocol') or '').encode('latin-1')]
            encode_headers(message.get('headers', ()), out)
            data = b'\0'.join(out)
            self.conn.write(pack(F_ACCEPT, self.sid, len(data)) + data)
        elif t == 'websocket.close':
            code = message.get('code') or 1000
            reason = (message.get('reason') or '').encode('utf-8')[:123]
            self.state = 2
            self.closed_code = code
            self.conn.write(pack(F_CLOSE, self.sid, 2 + len(reason)) + U16.pack(code) + reason)
        elif t == 'websocket.http.response.start':
            if self.state != 0:
                raise RuntimeError('websocket.http.response.start after websocket.accept')
            self.state = 3
            out = [b'%d' % message['status']]
            encode_headers(message.get('headers', ()), out)
            data = b'\0'.join(out)
            self.conn.write(pack(F_START, self.sid, len(data)) + data)
        elif t == 'websocket.http.response.body':
            if self.state != 3:
                raise RuntimeError('websocket.http.response.body before its start')
            body = message.get('body', b'')
            more = message.get('more_body', False)
            self.conn.write(pack(F_BODY, self.sid, len(body) + 1) + (MORE if more else LAST) + body)
            if more:
                await self.window(len(body))
        else:
            raise RuntimeError('unknown ASGI message type %r for a WebSocket' % (t,))


class Lifespan(object):
    """Runs the application's lifespan protocol."""

    def __init__(self, app, mode, state):
        self.app = app
        self.mode = mode
        self.state = state
        self.inbox = asyncio.Queue()
        self.outbox = asyncio.Queue()
        self.task = None
        self.supported = True

    async def receive(self):
        return await self.inbox.get()

    async def send(self, message):
        await self.outbox.put(message)

    async def _run(self):
        scope = {'type': 'lifespan', 'asgi': ASGI, 'state': self.state}
        try:
            await self.app(scope, self.receive, self.send)
        except BaseException:
            self.error = traceback.format_exc()
            raise

    async def _step(self, event, timeout=None):
        """Sends event and waits for the answer or the task's end.
        Returns (message or None, error text or None)."""
        await self.inbox.put({'type': event})
        get = asyncio.ensure_future(self.outbox.get())
        done, _ = await asyncio.wait({get, self.task}, timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if get in done:
            return get.result(), None
        get.cancel()
        if self.task in done:
            exc = self.task.exception() if not self.task.cancelled() else None
            if exc is not None:
                return None, getattr(self, 'error', repr(exc))
            return None, 'the application returned during lifespan'
        return None, 'no answer within %ss' % timeout

    async def startup(self):
        """Returns None on success, else the failure message."""
        self.error = None
        self.task = asyncio.ensure_future(self._run())
        m, err = await self._step('lifespan.startup')
        if m is None:
            if self.mode == 'auto':
                self.supported = False
                if self.error:
                    print('asgi: the application raised on the lifespan scope; going on '
                          'without lifespan (lifespan = "auto"): %s' % self.error.strip().splitlines()[-1])
                return None
            return 'lifespan startup failed: ' + (err or 'no answer')
        if m.get('type') == 'lifespan.startup.failed':
            return 'lifespan startup failed: ' + str(m.get('message', ''))
        if m.get('type') != 'lifespan.startup.complete':
            return 'lifespan startup: unexpected message %r' % (m.get('type'),)
        return None

    async def shutdown(self):
        if not self.supported or self.task is None or self.task.done():
            return
        m, err = await self._step('lifespan.shutdown', timeout=10)
        if m is None:
            sys.stderr.write('asgi: lifespan shutdown: %s\n' % err)
        elif m.get('type') == 'lifespan.shutdown.failed':
            sys.stderr.write('asgi: lifespan shutdown failed: %s\n' % m.get('message', ''))
        try:
            await asyncio.wait_for(self.task, 5)
        except BaseException:
            pass


def load(spec):
    """Imports "module:attribute" (the attribute may be dotted) and
    checks that it is callable."""
    modname, _, attr = spec.partition(':')
    if not attr:
        attr = 'app'
    obj = importlib.import_module(modname)
    for part in attr.split('.'):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise AttributeError('module %r has no attribute %r (app = %r)' % (modname, attr, spec)) from None
    if not callable(obj):
        raise TypeError('%s is not callable but %s %r: app = %r must name the ASGI application'
                        % (attr, type(obj).__name__, obj, spec))
    return obj


def asgi3(app):
    """Adapts an ASGI 2 (double-callable) application to ASGI 3."""
    if inspect.isclass(app):
        three = hasattr(app, '__await__')
    elif inspect.isfunction(app) or inspect.ismethod(app):
        three = asyncio.iscoroutinefunction(app)
    else:
        call = getattr(app, '__call__', None)
        three = asyncio.iscoroutinefunction(call)
    if three:
        return app

    async def adapter(scope, receive, send):
        instance = app(scope)
        await instance(receive, send)
    return adapter


def recv_exactly(sock, n):
    parts = []
    while n > 0:
        data = sock.recv(n)
        if not data:
            raise EOFError('the server closed the control socket')
        parts.append(data)
        n -= len(data)
    return b''.join(parts)


def read_config(ctrl):
    t, _, n = HDR.unpack(recv_exactly(ctrl, 9))
    if t != C_CONFIG:
        raise ValueError('asgi: expected the configuration frame, got %r' % chr(t))
    conf = {'python_path': []}
    it = iter(recv_exactly(ctrl, n).split(b'\0'))
    for k, v in zip(it, it):
        k, v = k.decode('ascii'), os.fsdecode(v)
        if k == 'python_path':
            conf[k].append(v)
        else:
            conf[k] = v
    return conf


async def serve(ctrl, conf):
    loop = asyncio.get_running_loop()

    def report(kind, text):
        data = text.encode('utf-8', 'backslashreplace')
        try:
            ctrl.sendall(pack(kind, 0, len(data)) + data)
        except OSError:
            os._exit(0)

    report(C_HELLO, '%s\0%s' % (sys.version.split()[0], sys.executable))
    try:
        app = asgi3(load(conf['app']))
    except BaseException:
        report(C_FAILED, traceback.format_exc())
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(3)
    if conf.get('check') == '1':
        # httpd -t: the application loads; nothing is served, and the
        # lifespan does not run.
        report(C_READY, str(os.getpid()))
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    state = {}
    lifespan = None
    if conf.get('lifespan', 'auto') != 'off':
        lifespan = Lifespan(app, conf.get('lifespan', 'auto'), state)
        err = await lifespan.startup()
        if err is not None:
            report(C_FAILED, err)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(4)
        if not lifespan.supported:
            state = None
    else:
        state = None

    sock = socket.socket(fileno=4)
    sock.setblocking(False)
    conn = Conn(loop, sock, app, state)
    await loop.connect_accepted_socket(lambda: conn, sock=sock)
    report(C_READY, str(os.getpid()))

    # Wait for the server to close the control socket (stop), checking
    # that the server is still our parent.
    ppid = os.getppid()
    ctrl.setblocking(False)
    while True:
        try:
            data = await asyncio.wait_for(loop.sock_recv(ctrl, 64), 1.0)
            if not data:
                break
        except asyncio.TimeoutError:
            if os.getppid() != ppid:
                os._exit(1)
        except OSError:
            break
    # Finish what is in flight (the server sends nothing new), then run
    # the lifespan shutdown.
    deadline = loop.time() + 10
    while conn.streams and loop.time() < deadline:
        await asyncio.sleep(0.05)
    if lifespan is not None:
        await lifespan.shutdown()
    ctrl.close()


def main():
    # The server sends SIGUSR1 before it kills a worker whose event loop
    # is blocked: every thread's stack goes to stderr, the error log.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    ctrl = socket.socket(fileno=3)
    try:
        conf = read_config(ctrl)
    except (OSError, EOFError, ValueError, struct.error):
        os._exit(2)
    sys.argv = [conf['app']]
    path = [p for p in sys.path if p not in ('', '.')]
    sys.path[:] = conf['python_path'] + [os.getcwd()] + path
    venv = conf.get('virtualenv')
    if venv:
        import glob
        import site
        for d in sorted(glob.glob(os.path.join(venv, 'lib', 'python*', 'site-packages'))):
            site.addsitedir(d)
    asyncio.run(serve(ctrl, conf))
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(0)


main()
