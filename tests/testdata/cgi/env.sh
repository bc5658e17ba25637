#!/bin/sh
# Dumps the CGI environment, one NAME=value per line, sorted.
printf 'Content-Type: text/plain\r\n\r\n'
env | sort
