"""A small Flask application for the end-to-end tests."""
import hashlib
import time

from flask import Flask, Response, jsonify, request

app = Flask(__name__)


@app.route('/')
def index():
    return 'Hello from Flask'


@app.route('/echo', methods=['GET', 'POST'])
def echo():
    return jsonify(
        method=request.method,
        length=len(request.get_data()),
        form=request.form.to_dict(),
        args=request.args.to_dict(),
        script_root=request.script_root,
        path=request.path,
        url=request.url,
    )


@app.route('/json', methods=['POST'])
def json_echo():
    return jsonify(got=request.get_json())


@app.route('/upload', methods=['POST'])
def upload():
    f = request.files['file']
    h = hashlib.sha256()
    n = 0
    for chunk in iter(lambda: f.read(65536), b''):
        h.update(chunk)
        n += len(chunk)
    return jsonify(name=f.filename, sha256=h.hexdigest(), length=n)


@app.route('/stream')
def stream():
    def gen():
        yield 'first\n'
        time.sleep(1)
        yield 'second\n'
    return Response(gen(), mimetype='text/plain')


@app.route('/fail')
def fail():
    raise RuntimeError('flask view failed')


application = app
