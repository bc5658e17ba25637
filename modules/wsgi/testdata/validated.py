"""A simple application wrapped in wsgiref.validate."""
from wsgiref.validate import validator


def simple(environ, start_response):
    body = environ['wsgi.input'].read(int(environ.get('CONTENT_LENGTH') or 0))
    environ['wsgi.errors'].write('validated request\n')
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'valid:', body]


application = validator(simple)
