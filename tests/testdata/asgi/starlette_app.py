"""A Starlette application, run unchanged by asgi_app in the tests."""

import os

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocketDisconnect

MARK = os.environ.get('ASGI_MARK', '')
STATE = {}


async def startup():
    STATE['ready'] = True
    if MARK:
        with open(MARK + '.startup', 'w') as f:
            f.write(str(os.getpid()))


async def shutdown():
    if MARK:
        with open(MARK + '.shutdown', 'w') as f:
            f.write(str(os.getpid()))


async def homepage(request):
    return JSONResponse({'hello': 'starlette', 'ready': STATE.get('ready', False),
                         'path': request.url.path})


async def echo(request):
    body = await request.body()
    return PlainTextResponse(body[::-1])


async def ws_echo(ws):
    await ws.accept(subprotocol=(ws.scope['subprotocols'] or [None])[0])
    try:
        while True:
            msg = await ws.receive()
            if msg['type'] == 'websocket.disconnect':
                return
            if msg.get('text') is not None:
                await ws.send_text('echo: ' + msg['text'])
            else:
                await ws.send_bytes(msg['bytes'])
    except WebSocketDisconnect:
        pass


app = Starlette(routes=[
    Route('/', homepage),
    Route('/echo', echo, methods=['POST']),
    WebSocketRoute('/ws', ws_echo),
], on_startup=[startup], on_shutdown=[shutdown])
