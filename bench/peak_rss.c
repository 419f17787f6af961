/* peak_rss PROGRAM [ARGS...]: runs PROGRAM (its output discarded) and prints its exit status and
 * peak resident set size in KiB ("status KIB"). model_bench's rss/<model> runs the model example
 * through it: a child spawned straight from the benchmark would report the benchmark's own peak
 * (Linux carries the parent's high-water mark into a vfork'ed child across exec), while this
 * small program's fork hands the example a clean one. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: peak_rss PROGRAM [ARGS...]\n");
    return 2;
  }
  pid_t pid = fork();
  if (pid < 0) return 2;
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) {
      dup2(null, 1);
      dup2(null, 2);
    }
    execv(argv[1], argv + 1);
    _exit(127);
  }
  int status = 0;
  struct rusage u;
  if (wait4(pid, &status, 0, &u) != pid) return 2;
  printf("%d %ld\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1, u.ru_maxrss);
  return 0;
}
