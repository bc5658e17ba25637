"""Test application for the wsgi module: one route per behaviour."""
import hashlib
import io
import json
import os
import sys
import time
from urllib.parse import parse_qs


def jsonify(start_response, obj, status='200 OK'):
    body = json.dumps(obj).encode()
    start_response(status, [('Content-Type', 'application/json'),
                            ('Content-Length', str(len(body)))])
    return [body]


class Closing(object):
    def __init__(self, chunks, tag):
        self.chunks = chunks
        self.tag = tag

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        sys.stderr.write('closed %s\n' % self.tag)


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    q = {k: v[0] for k, v in parse_qs(environ.get('QUERY_STRING', '')).items()}
    inp = environ['wsgi.input']

    if path.startswith('/environ'):
        env = {}
        for k, v in environ.items():
            env[k] = v if isinstance(v, (str, bool, int)) else repr(v)
        env['wsgi.version'] = list(environ['wsgi.version'])
        return jsonify(start_response, env)

    if path == '/input':
        mode = q.get('mode', 'read')
        size = int(q.get('size', '-1'))
        out = []
        if mode == 'read':
            while True:
                data = inp.read(size)
                out.append(data.decode('latin-1'))
                if not data or size < 0:
                    break
        elif mode == 'readline':
            while True:
                line = inp.readline(size) if size >= 0 else inp.readline()
                out.append(line.decode('latin-1'))
                if not line:
                    break
        elif mode == 'readlines':
            hint = int(q.get('hint', '-1'))
            out = [l.decode('latin-1') for l in inp.readlines(hint)]
            out.append('|' + inp.read().decode('latin-1'))
        elif mode == 'iter':
            out = [l.decode('latin-1') for l in inp]
        elif mode == 'mixed':
            out.append(inp.read(3).decode())
            out.append(inp.readline().decode())
            out.append(inp.read(2).decode())
            out.append(inp.read().decode())
            out.append(inp.read().decode())
        return jsonify(start_response, out)

    if path == '/upload':
        h = hashlib.sha256()
        n = 0
        while True:
            data = inp.read(65536)
            if not data:
                break
            n += len(data)
            h.update(data)
        return jsonify(start_response, {'sha256': h.hexdigest(), 'length': n})

    if path == '/stream':
        start_response('200 OK', [('Content-Type', 'text/plain')])

        def gen():
            yield b'first\n'
            time.sleep(float(q.get('sleep', '1')))
            yield b'second\n'
        return gen()

    if path == '/big':
        n = int(q.get('n', '3000000'))
        start_response('200 OK', [('Content-Type', 'application/octet-stream')])
        return [b'x' * n]

    if path == '/write':
        write = start_response('200 OK', [('Content-Type', 'text/plain')])
        write(b'one ')
        write(b'')
        write(b'two ')
        return [b'three']

    if path == '/excinfo':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        try:
            raise ValueError('early')
        except ValueError:
            start_response('503 Service Unavailable', [('Content-Type', 'text/plain')], sys.exc_info())
        return [b'recovered']

    if path == '/excinfo-late':
        start_response('200 OK', [('Content-Type', 'text/plain')])

        def gen():
            yield b'partial'
            try:
                raise ValueError('late')
            except ValueError:
                start_response('500 Error', [], sys.exc_info())
            yield b'never'
        return gen()

    if path == '/twice':
        start_response('200 OK', [])
        start_response('200 OK', [])
        return [b'no']

    if path == '/raise':
        raise RuntimeError('boom from the app')

    if path == '/close':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return Closing([b'a', b'b'], q.get('tag', 'x'))

    if path == '/file':
        f = open(q['path'], 'rb')
        f.seek(int(q.get('offset', '0')))
        headers = [('Content-Type', 'application/octet-stream')]
        if 'cl' in q:
            headers.append(('Content-Length', q['cl']))
        start_response('200 OK', headers)
        return environ['wsgi.file_wrapper'](f, 4096)

    if path == '/filelike':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return environ['wsgi.file_wrapper'](io.BytesIO(b'from a BytesIO'), 4)

    if path == '/crash':
        start_response('200 OK', [])
        os._exit(1)

    if path == '/sleep':
        time.sleep(float(q.get('s', '1')))
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'slept']

    if path == '/pid':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [str(os.getpid()).encode()]

    if path == '/hop':
        start_response('200 OK', [('Connection', 'close')])
        return [b'no']

    if path == '/errors':
        err = environ['wsgi.errors']
        err.write('line one\nline ')
        err.write('two\n')
        err.writelines(['tail'])
        err.flush()
        start_response('200 OK', [])
        return [b'ok']

    if path == '/cl-short':
        start_response('200 OK', [('Content-Length', '10')])
        return [b'12345']

    if path == '/cl-long':
        start_response('200 OK', [('Content-Length', '3')])
        return [b'1234567890']

    if path == '/status':
        start_response(q.get('s', '201 Created'), [('X-Test', 'yes'), ('Set-Cookie', 'a=1'), ('Set-Cookie', 'b=2')])
        return [b'']

    if path == '/empty':
        start_response('204 No Content', [])
        return []

    start_response('404 Not Found', [('Content-Type', 'text/plain')])
    return [b'no route ' + path.encode('latin-1')]
