import json


def helper():
    raise ImportError('no module named missing_dependency_xyz')


helper()


def application(environ, start_response):
    start_response('200 OK', [])
    return [b'unreachable']
