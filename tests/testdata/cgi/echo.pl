#!/usr/bin/perl
# Echoes the request body back as it arrives.
use strict;
binmode STDIN;
binmode STDOUT;
$| = 1;
print "Content-Type: application/octet-stream\n";
print "X-Content-Length: ", ($ENV{CONTENT_LENGTH} // "unset"), "\n\n";
my $buf;
while (my $n = sysread(STDIN, $buf, 65536)) {
    print $buf;
}
