"""Raw ASGI applications for the end-to-end tests of asgi_app."""

import asyncio
import hashlib
import json
import os


async def app(scope, receive, send):
    if scope['type'] == 'lifespan':
        while True:
            m = await receive()
            if m['type'] == 'lifespan.startup':
                marker = os.environ.get('ASGI_MARK')
                if marker:
                    with open(marker + '.startup', 'w') as f:
                        f.write(str(os.getpid()))
                scope['state']['started'] = 'yes'
                await send({'type': 'lifespan.startup.complete'})
            elif m['type'] == 'lifespan.shutdown':
                marker = os.environ.get('ASGI_MARK')
                if marker:
                    with open(marker + '.shutdown', 'w') as f:
                        f.write(str(os.getpid()))
                await send({'type': 'lifespan.shutdown.complete'})
                return
    if scope['type'] == 'websocket':
        await websocket(scope, receive, send)
        return
    path = scope['path']
    handler = ROUTES.get(path)
    if handler is None:
        await respond(send, 404, b'not found\n')
        return
    await handler(scope, receive, send)


async def respond(send, status, body, ctype=b'text/plain'):
    await send({'type': 'http.response.start', 'status': status,
                'headers': [(b'content-type', ctype), (b'content-length', str(len(body)).encode())]})
    await send({'type': 'http.response.body', 'body': body})


async def read_body(receive):
    parts = []
    while True:
        m = await receive()
        if m['type'] == 'http.disconnect':
            raise ConnectionError('client gone')
        parts.append(m.get('body', b''))
        if not m.get('more_body'):
            return b''.join(parts)


async def scope_view(scope, receive, send):
    body = await read_body(receive)
    view = {k: v for k, v in scope.items() if k not in ('headers', 'raw_path', 'query_string', 'state', 'extensions')}
    view['headers'] = [[k.decode('latin-1'), v.decode('latin-1')] for k, v in scope['headers']]
    view['raw_path'] = scope['raw_path'].decode('latin-1')
    view['query_string'] = scope['query_string'].decode('latin-1')
    view['state'] = dict(scope.get('state') or {})
    view['body'] = body.decode('latin-1')
    view['pid'] = os.getpid()
    await respond(send, 200, json.dumps(view).encode(), b'application/json')


async def upload(scope, receive, send):
    """Hashes the body chunk by chunk and reports the largest chunk."""
    h = hashlib.sha256()
    n = 0
    largest = 0
    chunks = 0
    while True:
        m = await receive()
        if m['type'] == 'http.disconnect':
            return
        b = m.get('body', b'')
        h.update(b)
        n += len(b)
        chunks += 1
        largest = max(largest, len(b))
        if not m.get('more_body'):
            break
    out = json.dumps({'sha256': h.hexdigest(), 'bytes': n, 'largest': largest, 'chunks': chunks}).encode()
    await respond(send, 200, out, b'application/json')


async def stream(scope, receive, send):
    """Sends one event, then waits for the client to ask for the next by
    ... nothing: it sends an event every 10 ms until 5 are out."""
    await send({'type': 'http.response.start', 'status': 200,
                'headers': [(b'content-type', b'text/event-stream')]})
    for i in range(5):
        await send({'type': 'http.response.body', 'body': b'data: %d\n\n' % i, 'more_body': True})
        await asyncio.sleep(0.01)
    await send({'type': 'http.response.body', 'body': b''})


async def gated(scope, receive, send):
    """Sends "first", then waits for the file ASGI_MARK.release before
    sending "second": the first chunk must reach the client on its own."""
    gate = os.environ['ASGI_MARK'] + '.release'
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/plain')]})
    await send({'type': 'http.response.body', 'body': b'first\n', 'more_body': True})
    while not os.path.exists(gate):
        await asyncio.sleep(0.01)
    await send({'type': 'http.response.body', 'body': b'second\n'})


async def forever(scope, receive, send):
    """Streams until the client goes away, then writes a marker file."""
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/plain')]})
    await send({'type': 'http.response.body', 'body': b'tick\n', 'more_body': True})
    while True:
        m = await receive()
        if m['type'] == 'http.disconnect':
            with open(os.environ['ASGI_MARK'] + '.disconnect', 'w') as f:
                f.write('gone')
            return


async def big(scope, receive, send):
    """8 MiB in 64 KiB chunks: exercises the response window."""
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'application/octet-stream')]})
    chunk = b'x' * 65536
    for _ in range(128):
        await send({'type': 'http.response.body', 'body': chunk, 'more_body': True})
    await send({'type': 'http.response.body', 'body': b''})


async def heartbeat(scope, receive, send):
    """Streams for longer than request_timeout, never pausing as long."""
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/event-stream')]})
    for i in range(5):
        await send({'type': 'http.response.body', 'body': b': beat %d\n\n' % i, 'more_body': True})
        await asyncio.sleep(0.6)
    await send({'type': 'http.response.body', 'body': b'data: done\n\n'})


async def stall(scope, receive, send):
    """Begins a response, then stalls."""
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/plain')]})
    await send({'type': 'http.response.body', 'body': b'begun\n', 'more_body': True})
    await asyncio.sleep(60)


async def sleep(scope, receive, send):
    await asyncio.sleep(60)
    await respond(send, 200, b'woke\n')


async def block(scope, receive, send):
    """Blocks the event loop, as a blocking call in an async def does."""
    import time
    time.sleep(30)


async def crash(scope, receive, send):
    os._exit(1)


async def boom(scope, receive, send):
    raise ValueError('boom on purpose')


async def pid(scope, receive, send):
    await respond(send, 200, str(os.getpid()).encode())


ROUTES = {
    '/scope': scope_view,
    '/upload': upload,
    '/stream': stream,
    '/gated': gated,
    '/forever': forever,
    '/big': big,
    '/sleep': sleep,
    '/heartbeat': heartbeat,
    '/stall': stall,
    '/crash': crash,
    '/block': block,
    '/boom': boom,
    '/pid': pid,
}


async def websocket(scope, receive, send):
    m = await receive()
    assert m['type'] == 'websocket.connect'
    if scope['path'] == '/deny':
        await send({'type': 'websocket.close', 'code': 1008})
        return
    if scope['path'] == '/slow-accept':
        await asyncio.sleep(60)
    if scope['path'] == '/deny-http':
        await send({'type': 'websocket.http.response.start', 'status': 401,
                    'headers': [(b'content-type', b'text/plain'), (b'www-authenticate', b'Bearer')]})
        await send({'type': 'websocket.http.response.body', 'body': b'no entry\n'})
        return
    sub = scope['subprotocols'][0] if scope['subprotocols'] else None
    await send({'type': 'websocket.accept', 'subprotocol': sub})
    while True:
        m = await receive()
        if m['type'] == 'websocket.disconnect':
            with open(os.environ['ASGI_MARK'] + '.ws-disconnect', 'w') as f:
                f.write(str(m['code']))
            return
        if m.get('text') == 'close':
            await send({'type': 'websocket.close', 'code': 4000, 'reason': 'asked'})
            return
        if m.get('text') is not None:
            await send({'type': 'websocket.send', 'text': 'echo: ' + m['text']})
        else:
            await send({'type': 'websocket.send', 'bytes': m['bytes']})


def app2(scope):
    """An ASGI 2 (double callable) application."""
    async def instance(receive, send):
        await respond(send, 200, b'asgi2 ' + scope['type'].encode())
    return instance
