#!/usr/bin/python3
# Answers with the response named by the query string.
import os
import sys

q = os.environ.get("QUERY_STRING", "")
out = sys.stdout
if q == "notfound":
    out.write("Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nno such thing\n")
elif q == "client":
    out.write("Location: https://example.com/elsewhere\r\n\r\n")
elif q == "moved":
    out.write("Status: 301 Moved Permanently\r\nLocation: https://example.com/moved\r\nContent-Type: text/html\r\n\r\n<a href=\"https://example.com/moved\">moved</a>\n")
elif q == "local":
    out.write("Location: /cgi-bin/env.sh/after-redirect?from=python\r\n\r\n")
elif q == "static":
    out.write("Location: /page.txt\r\n\r\n")
elif q == "cookies":
    out.write("Content-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\ncookies\n")
else:
    out.write("Content-Type: text/plain\r\n\r\nhello from python\n")
