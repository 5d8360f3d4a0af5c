// Peak RSS of one command: vfork + exec + wait4, prints "<ru_maxrss KiB> <exit code>".
// Built by bench.py (cc -O2 -static) into its work directory.
//
// Why a separate tiny static binary: at execve the kernel folds the old mm's RSS high-water
// mark into the process's maxrss, and a vfork/posix_spawn child's old mm is its parent's. Spawned
// from the Python harness (or GNU time) every runtime would read at least the spawner's RSS;
// spawned from this ~1 MB static binary the floor is this binary's own footprint (measure it by
// running `maxrss /true`). ru_maxrss covers the command and the descendants it reaped (runc
// init, the container's /true): the largest of them, not the sum.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: maxrss COMMAND [ARG...]\n");
    return 2;
  }
  pid_t pid = vfork();
  if (pid < 0) {
    perror("vfork");
    return 2;
  }
  if (pid == 0) {
    // The command's stdin/stdout go to /dev/null: stdout carries only the result line.
    int null_fd = open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
      dup2(null_fd, 0);
      dup2(null_fd, 1);
    }
    execv(argv[1], argv + 1);
    _exit(127);
  }
  int status = 0;
  struct rusage usage;
  if (wait4(pid, &status, 0, &usage) < 0) {
    perror("wait4");
    return 2;
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  printf("%ld %d\n", usage.ru_maxrss, code);
  return 0;
}
