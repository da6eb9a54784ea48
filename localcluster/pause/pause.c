/* The sandbox ("pause") process of real nodes: holds the pod's namespaces, reaps orphans, exits on
   SIGTERM/SIGINT. Built static by portalis_dev.realnode into a FROM-scratch image. */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>
static void reap(int s) { (void)s; while (waitpid(-1, NULL, WNOHANG) > 0) {} }
static void quit(int s) { (void)s; _exit(0); }
int main(void) {
  signal(SIGINT, quit); signal(SIGTERM, quit); signal(SIGCHLD, reap);
  for (;;) pause();
}
