#define _GNU_SOURCE
#include <sched.h>
#include <stddef.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cdatapath.h"

_Static_assert(sizeof(struct midge_dp_mmsghdr) == sizeof(struct mmsghdr), "mmsghdr size");
_Static_assert(offsetof(struct midge_dp_mmsghdr, msg_len) == offsetof(struct mmsghdr, msg_len),
               "mmsghdr layout");

int midge_dp_recvmmsg(int fd, struct midge_dp_mmsghdr *messages, unsigned int count, int flags) {
  return recvmmsg(fd, (struct mmsghdr *)messages, count, flags, NULL);
}

int midge_dp_sendmmsg(int fd, struct midge_dp_mmsghdr *messages, unsigned int count, int flags) {
  return sendmmsg(fd, (struct mmsghdr *)messages, count, flags);
}

int midge_dp_setns_net(int fd) { return setns(fd, CLONE_NEWNET); }

int midge_dp_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }

int midge_dp_interface_flags(int fd, const char *name, int *flags) {
  struct ifreq request;
  memset(&request, 0, sizeof(request));
  strncpy(request.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFFLAGS, &request) < 0) return -1;
  *flags = request.ifr_flags;
  return 0;
}

int midge_dp_set_affinity(int tid, const int *cpus, int count) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int i = 0; i < count; i++) {
    if (cpus[i] >= 0 && cpus[i] < CPU_SETSIZE) CPU_SET(cpus[i], &set);
  }
  return sched_setaffinity(tid, sizeof(set), &set);
}

int midge_dp_get_affinity(int *cpus, int capacity) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return -1;
  int count = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE && count < capacity; cpu++) {
    if (CPU_ISSET(cpu, &set)) cpus[count++] = cpu;
  }
  return count;
}
