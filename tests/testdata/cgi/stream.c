/* Writes one line, waits, writes another: each must reach the client as
   it is written. */
#include <stdio.h>
#include <unistd.h>

int main(void) {
    printf("Content-Type: text/plain\r\n\r\nfirst\n");
    fflush(stdout);
    sleep(2);
    printf("second\n");
    return 0;
}
