#!/bin/sh
# Not a CGI response: no header block.
echo "complaint from broken.sh" >&2
echo "this is not a header"
