"""A WSGI application (PEP 3333), served at /app by the shipped config."""

import html


def application(environ, start_response):
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(environ[k]))}</td></tr>\n"
        for k in sorted(environ)
        if k.isupper() or k.startswith("wsgi.")
    )
    body = (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Hello from WSGI</title></head>\n"
        "<body><h1>Hello from WSGI</h1>\n"
        f"<p>Path: <code>{html.escape(environ.get('PATH_INFO', ''))}</code></p>\n"
        f"<table>\n{rows}</table></body></html>\n"
    ).encode("utf-8")
    start_response("200 OK", [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Content-Length", str(len(body))),
    ])
    return [body]
