// The few Linux interfaces the Datapath module needs that Swift's Glibc module does not
// expose: the GNU-only batched socket calls, pipe2(2) and setns(2), and the kernel UAPI
// headers for AF_PACKET and virtio_net_hdr. One thin wrapper per call, as swift-nio's
// shims do; no logic lives here. Swift calls them only from Sources/Datapath/Syscall*.swift
// (and midgectl's CPU affinity).
#ifndef MIDGE_CDATAPATH_H
#define MIDGE_CDATAPATH_H

#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <sys/socket.h>
#include <sys/types.h>

/// Same layout as glibc's `struct mmsghdr`, which is only declared under _GNU_SOURCE.
struct midge_dp_mmsghdr {
  struct msghdr msg_hdr;
  unsigned int msg_len;
};

/// recvmmsg(2).
int midge_dp_recvmmsg(int fd, struct midge_dp_mmsghdr *messages, unsigned int count, int flags);

/// sendmmsg(2).
int midge_dp_sendmmsg(int fd, struct midge_dp_mmsghdr *messages, unsigned int count, int flags);

/// setns(2) for network namespaces (CLONE_NEWNET).
int midge_dp_setns_net(int fd);

/// ioctl(SIOCGIFFLAGS): the interface flags of `name` into `flags`; returns -1 with
/// errno set on failure (ENODEV when the interface is gone).
int midge_dp_interface_flags(int fd, const char *name, int *flags);

/// pipe2(2), which glibc declares only under _GNU_SOURCE.
int midge_dp_pipe2(int fds[2], int flags);

/// sched_setaffinity(2): pins thread `tid` (0: the caller) to the `count` CPUs in `cpus`.
int midge_dp_set_affinity(int tid, const int *cpus, int count);

/// sched_getaffinity(2) of the caller: stores up to `capacity` CPU numbers in `cpus` and
/// returns how many, or -1 with errno set.
int midge_dp_get_affinity(int *cpus, int capacity);

/// Asks the CPU to start loading the cache line at `address` for writing, so that a
/// batch of flow-table probes waits for memory once rather than once per packet.
static inline void midge_dp_prefetch(const void *address) {
  __builtin_prefetch(address, 1, 3);
}

#endif
