/* forkexec measures the machine's ceiling for CGI: how many times a
   second it can fork, exec a program (posix_spawn: a vfork-style clone
   and execve, the fastest way there is) with stdout on a pipe, read the
   output to EOF and reap the child. P workers run at once (as a server
   runs P scripts for P connections); it prints the total rate.

   usage: forkexec PROGRAM N [P] */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int run(char *prog, long n);

int main(int argc, char **argv) {
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s PROGRAM N [P]\n", argv[0]);
        return 2;
    }
    char *prog = argv[1];
    long n = atol(argv[2]);
    int workers = argc == 4 ? atoi(argv[3]) : 1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int w = 0; w < workers; w++) {
        pid_t pid = fork();
        if (pid < 0) { perror("fork"); return 1; }
        if (pid == 0) _exit(run(prog, n / workers));
    }
    int failed = 0;
    for (int w = 0; w < workers; w++) {
        int status;
        wait(&status);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed = 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (failed) return 1;
    double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%.1f\n", (n / workers) * workers / s);
    return 0;
}

/* run fork+execs prog n times, one after another. */
static int run(char *prog, long n) {
    char *args[] = {prog, NULL};
    char *env[] = {"PATH=/usr/bin:/bin", NULL};
    char buf[4096];
    for (long i = 0; i < n; i++) {
        int p[2];
        if (pipe(p) != 0) { perror("pipe"); return 1; }
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, p[1], 1);
        posix_spawn_file_actions_addclose(&fa, p[0]);
        posix_spawn_file_actions_addclose(&fa, p[1]);
        pid_t pid;
        int err = posix_spawn(&pid, prog, &fa, NULL, args, env);
        posix_spawn_file_actions_destroy(&fa);
        if (err != 0) { fprintf(stderr, "posix_spawn: %d\n", err); return 1; }
        close(p[1]);
        while (read(p[0], buf, sizeof buf) > 0) {
        }
        close(p[0]);
        int status;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "child failed\n");
            return 1;
        }
    }
    return 0;
}
