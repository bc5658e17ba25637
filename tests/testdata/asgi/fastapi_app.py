"""A FastAPI application, run unchanged by asgi_app in the tests."""

import asyncio
import os

from fastapi import FastAPI, Form, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

MARK = os.environ.get('ASGI_MARK', '')


app = FastAPI()


@app.on_event('startup')
async def startup():
    app.state.greeting = 'hello from lifespan'
    if MARK:
        with open(MARK + '.startup', 'w') as f:
            f.write(str(os.getpid()))


@app.on_event('shutdown')
async def shutdown():
    if MARK:
        with open(MARK + '.shutdown', 'w') as f:
            f.write(str(os.getpid()))


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


@app.get('/items/{item_id}')
async def read_item(item_id: int, q: str | None = None):
    return {'item_id': item_id, 'q': q}


@app.post('/items')
async def create_item(item: Item):
    return {'name': item.name, 'total': item.price * 2, 'tags': item.tags}


@app.post('/form')
async def form(name: str = Form(...), age: int = Form(...)):
    return {'name': name, 'age': age}


@app.get('/state')
async def state(request: Request):
    return {'greeting': request.app.state.greeting, 'root_path': request.scope.get('root_path'),
            'url': str(request.url)}


@app.get('/stream')
async def stream():
    async def gen():
        for i in range(3):
            yield 'line %d\n' % i
            await asyncio.sleep(0.01)
    return StreamingResponse(gen(), media_type='text/plain')


class Room:
    def __init__(self):
        self.members = set()

    async def broadcast(self, text):
        for ws in list(self.members):
            await ws.send_text(text)


room = Room()


@app.websocket('/chat/{name}')
async def chat(ws: WebSocket, name: str):
    await ws.accept()
    room.members.add(ws)
    await room.broadcast('%s joined' % name)
    try:
        while True:
            text = await ws.receive_text()
            await room.broadcast('%s: %s' % (name, text))
    except WebSocketDisconnect:
        room.members.discard(ws)
        await room.broadcast('%s left' % name)
