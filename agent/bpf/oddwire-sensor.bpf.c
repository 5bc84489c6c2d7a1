// SPDX-License-Identifier: GPL-2.0
/* oddwire sensor, kernel side: the same events as oddwire-events.bt (exec,
 * TCP connect with its outcome, TCP accept in the accepting process, the first
 * UDP datagram of each flow) written to a ring buffer for oddwire-sensor.c.
 *
 * Every program is a BTF-enabled raw tracepoint (tp_btf): it attaches through
 * bpf() alone, with no tracefs and no perf_event_open, so CAP_BPF and
 * CAP_PERFMON are enough. Syscall arguments come from the raw syscall
 * tracepoints (sys_enter/sys_exit, x86-64 numbers) filtered by number first.
 *
 * connect: SYN_SENT is entered in the connecting task but before the source
 *   port is chosen; the outcome comes later in softirq with whoever's pid. The
 *   identity is kept per socket at SYN_SENT and sent with the tuple at the outcome.
 * accept:  the new fd of accept/accept4 is followed to its socket at syscall
 *   exit, in the accepting task.
 * udp:     sock_send_length/sock_recv_length give the socket; an unconnected
 *   socket's peer is the syscall's own address argument (recorded at entry;
 *   for a receive, read at exit once the kernel has filled it in). A flow is
 *   (pid, local port, peer, direction); it is sent once, then again only
 *   after 60 s.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "oddwire-sensor.h"

char LICENSE[] SEC("license") = "GPL";

#define ODW_AF_INET 2
#define ODW_AF_INET6 10
#define ODW_IPPROTO_TCP 6
#define ODW_IPPROTO_UDP 17
#define ODW_TCP_ESTABLISHED 1
#define ODW_TCP_SYN_SENT 2
#define ODW_UDP_REARM_NS (60ULL * 1000000000ULL)
#define ODW_MAP_ENTRIES 16384

/* x86-64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl). */
#define NR_accept 43
#define NR_sendto 44
#define NR_recvfrom 45
#define NR_sendmsg 46
#define NR_recvmsg 47
#define NR_accept4 288
#define NR_recvmmsg 299
#define NR_sendmmsg 307

/* Exec events carry a filename; the others stop before it. */
#define ODW_SHORT_EVENT __builtin_offsetof(struct odw_event, filename)

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20); /* bytes; the loader may change it (--ring-bytes) */
} events SEC(".maps");

/* Events that found the ring buffer full, per CPU; the loader sums and reports them. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

struct connector {
	__u32 pid;
	__u32 tid;
	__u32 uid;
	char comm[ODW_COMM_LEN];
};

/* Socket in SYN_SENT → who is connecting. LRU: a socket whose outcome never
 * comes (freed in SYN_SENT) is pushed out rather than filling the map. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, ODW_MAP_ENTRIES);
	__type(key, __u64);
	__type(value, struct connector);
} connecting SEC(".maps");

/* Thread → user address of the peer argument of its send/recv syscall in flight. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, ODW_MAP_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
} peer_arg SEC(".maps");

/* Thread → unconnected UDP socket that received, finished at syscall exit. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, ODW_MAP_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
} recv_sock SEC(".maps");

struct flow_key {
	__u32 pid;
	__u16 lport;
	__u16 rport;
	__u8 raddr[16];
	__u8 family;
	__u8 direction;
	__u8 pad[2];
};

/* UDP flow → when it was last sent. LRU when full: an evicted flow is sent
 * again, never lost. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, ODW_MAP_ENTRIES);
	__type(key, struct flow_key);
	__type(value, __u64);
} udp_seen SEC(".maps");

/* Wake the loader only when the ring is a quarter full (the loader sets this
 * from the ring's size); otherwise it drains the ring on its own timer. A
 * wake-up per event costs the loader a context switch per event, most of its
 * CPU at a thousand events a second. */
const volatile __u64 wakeup_bytes = 1 << 18;

static __always_inline void submit(struct odw_event *e)
{
	__u64 pending = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);

	bpf_ringbuf_submit(e, pending >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

static __always_inline struct odw_event *reserve(__u64 size)
{
	struct odw_event *e = bpf_ringbuf_reserve(&events, size, 0);
	if (!e) {
		__u32 zero = 0;
		__u64 *n = bpf_map_lookup_elem(&lost, &zero);
		if (n)
			*n += 1;
	}
	return e;
}

static __always_inline void fill_current(struct odw_event *e, __u32 kind)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	e->mono_ns = bpf_ktime_get_ns();
	e->kind = kind;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ppid = 0;
	e->flag = 0;
	e->pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
}

/* Local and remote address and port of a socket; returns its family, 0 if neither inet nor inet6. */
static __always_inline __u16 fill_tuple(struct odw_event *e, const struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	__builtin_memset(e->laddr, 0, sizeof(e->laddr));
	__builtin_memset(e->raddr, 0, sizeof(e->raddr));
	e->family = family;
	e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == ODW_AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)e->laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)e->raddr, sk, __sk_common.skc_daddr);
	} else if (family == ODW_AF_INET6) {
		BPF_CORE_READ_INTO(&e->laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		return 0;
	}
	return family;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct odw_event *e = reserve(sizeof(*e));
	if (!e)
		return 0;
	fill_current(e, ODW_EXEC);
	e->ppid = BPF_CORE_READ(p, real_parent, tgid);
	e->family = 0;
	e->lport = 0;
	e->rport = 0;
	__builtin_memset(e->laddr, 0, sizeof(e->laddr));
	__builtin_memset(e->raddr, 0, sizeof(e->raddr));
	if (bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), BPF_CORE_READ(bprm, filename)) < 0)
		e->filename[0] = 0;
	/* argv as exec just laid it out in the new process's memory: the
	 * command line of a process that is gone before the agent reads /proc. */
	e->args_len = 0;
	e->pad2 = 0;
	unsigned long arg_start = BPF_CORE_READ(p, mm, arg_start);
	unsigned long arg_end = BPF_CORE_READ(p, mm, arg_end);
	if (arg_end > arg_start) {
		__u64 n = arg_end - arg_start;
		if (n > ODW_ARGS_LEN)
			n = ODW_ARGS_LEN;
		n &= (ODW_ARGS_LEN * 2 - 1); /* a bound the verifier can see */
		if (n > 0 && n <= ODW_ARGS_LEN && bpf_probe_read_user(e->args, n, (const void *)arg_start) == 0)
			e->args_len = n;
	}
	/* An exec wakes the loader at once: the agent reads the new process's
	 * command line from /proc as the event arrives, and a process that
	 * connects and exits within a few milliseconds must still be there. Execs
	 * are rare next to connections, so this costs little. */
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_sock_state, const struct sock *sk, const int oldstate, const int newstate)
{
	__u64 key = (__u64)sk;

	if (BPF_CORE_READ(sk, sk_protocol) != ODW_IPPROTO_TCP)
		return 0;
	if (newstate == ODW_TCP_SYN_SENT) {
		__u64 pid_tgid = bpf_get_current_pid_tgid();
		struct connector c = {};

		c.pid = pid_tgid >> 32;
		c.tid = (__u32)pid_tgid;
		c.uid = (__u32)bpf_get_current_uid_gid();
		bpf_get_current_comm(c.comm, sizeof(c.comm));
		bpf_map_update_elem(&connecting, &key, &c, BPF_ANY);
		return 0;
	}
	if (oldstate != ODW_TCP_SYN_SENT)
		return 0;
	struct connector *c = bpf_map_lookup_elem(&connecting, &key);
	if (!c)
		return 0;
	struct odw_event *e = reserve(ODW_SHORT_EVENT);
	if (e) {
		e->mono_ns = bpf_ktime_get_ns();
		e->kind = ODW_CONNECT;
		e->pid = c->pid;
		e->tid = c->tid;
		e->uid = c->uid;
		e->ppid = 0;
		e->pad = 0;
		__builtin_memcpy(e->comm, c->comm, sizeof(e->comm));
		e->flag = newstate == ODW_TCP_ESTABLISHED;
		if (fill_tuple(e, sk))
			submit(e);
		else
			bpf_ringbuf_discard(e, 0);
	}
	bpf_map_delete_elem(&connecting, &key);
	return 0;
}

static __always_inline void send_accept(long fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = 0;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) < 0 || !f)
		return;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	if (!sock)
		return;
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != ODW_IPPROTO_TCP)
		return;
	struct odw_event *e = reserve(ODW_SHORT_EVENT);
	if (!e)
		return;
	fill_current(e, ODW_ACCEPT);
	if (fill_tuple(e, sk))
		submit(e);
	else
		bpf_ringbuf_discard(e, 0);
}

/* Sends one UDP event unless this flow was sent less than a minute ago. The
 * remote end is given (it may come from the syscall rather than the socket). */
static __always_inline void send_udp(const struct sock *sk, __u16 family, const __u8 *raddr, __u16 rport, __u8 direction)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 now = bpf_ktime_get_ns();
	struct flow_key k;

	__builtin_memset(&k, 0, sizeof(k));
	k.pid = pid_tgid >> 32;
	k.lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	k.rport = rport;
	__builtin_memcpy(k.raddr, raddr, 16);
	k.family = family;
	k.direction = direction;
	__u64 *last = bpf_map_lookup_elem(&udp_seen, &k);
	if (last && now - *last < ODW_UDP_REARM_NS)
		return;
	bpf_map_update_elem(&udp_seen, &k, &now, BPF_ANY);

	struct odw_event *e = reserve(ODW_SHORT_EVENT);
	if (!e)
		return;
	fill_current(e, ODW_UDP);
	if (fill_tuple(e, sk) != family) {
		bpf_ringbuf_discard(e, 0);
		return;
	}
	__builtin_memcpy(e->raddr, raddr, 16);
	e->rport = rport;
	e->flag = direction;
	submit(e);
}

/* The socket's own peer (a connected socket). */
static __always_inline void send_udp_connected(const struct sock *sk, __u8 direction)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u8 raddr[16] = {};

	if (family == ODW_AF_INET)
		BPF_CORE_READ_INTO((__u32 *)raddr, sk, __sk_common.skc_daddr);
	else if (family == ODW_AF_INET6)
		BPF_CORE_READ_INTO(&raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	else
		return;
	send_udp(sk, family, raddr, bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport)), direction);
}

/* The peer named by the syscall's address argument, a user sockaddr. */
static __always_inline void send_udp_to_arg(const struct sock *sk, __u64 uaddr, __u8 direction)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u8 raddr[16] = {};
	__u16 sa_family = 0;
	__u16 port;

	if (bpf_probe_read_user(&sa_family, sizeof(sa_family), (void *)uaddr) < 0 || sa_family != family)
		return;
	if (family == ODW_AF_INET) {
		struct sockaddr_in sin;
		if (bpf_probe_read_user(&sin, sizeof(sin), (void *)uaddr) < 0)
			return;
		__builtin_memcpy(raddr, &sin.sin_addr.s_addr, 4);
		port = bpf_ntohs(sin.sin_port);
	} else if (family == ODW_AF_INET6) {
		struct sockaddr_in6 sin6;
		if (bpf_probe_read_user(&sin6, sizeof(sin6), (void *)uaddr) < 0)
			return;
		__builtin_memcpy(raddr, &sin6.sin6_addr.in6_u.u6_addr8, 16);
		port = bpf_ntohs(sin6.sin6_port);
	} else {
		return;
	}
	send_udp(sk, family, raddr, port, direction);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	void *name = 0;

	switch (id) {
	case NR_sendto:
	case NR_recvfrom:
		name = (void *)BPF_CORE_READ(regs, r8);
		break;
	case NR_sendmsg:
	case NR_recvmsg: {
		struct user_msghdr *m = (void *)BPF_CORE_READ(regs, si);
		bpf_probe_read_user(&name, sizeof(name), &m->msg_name);
		break;
	}
	case NR_sendmmsg:
	case NR_recvmmsg: { /* the first message's peer stands for the batch */
		struct mmsghdr *mm = (void *)BPF_CORE_READ(regs, si);
		bpf_probe_read_user(&name, sizeof(name), &mm->msg_hdr.msg_name);
		break;
	}
	default:
		return 0;
	}
	if (name) {
		__u32 tid = (__u32)bpf_get_current_pid_tgid();
		__u64 v = (__u64)name;
		bpf_map_update_elem(&peer_arg, &tid, &v, BPF_ANY);
	}
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(on_send_length, struct sock *sk, int ret, int flags)
{
	if (ret < 0 || BPF_CORE_READ(sk, sk_protocol) != ODW_IPPROTO_UDP)
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *uaddr = bpf_map_lookup_elem(&peer_arg, &tid);
	/* A send's address argument is input: readable now. It overrides a connected socket's peer, as in the kernel. */
	if (uaddr)
		send_udp_to_arg(sk, *uaddr, 0);
	else if (BPF_CORE_READ(sk, __sk_common.skc_dport) != 0)
		send_udp_connected(sk, 0);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(on_recv_length, struct sock *sk, int ret, int flags)
{
	if (ret < 0 || BPF_CORE_READ(sk, sk_protocol) != ODW_IPPROTO_UDP)
		return 0;
	if (BPF_CORE_READ(sk, __sk_common.skc_dport) != 0) {
		send_udp_connected(sk, 1);
		return 0;
	}
	/* Unconnected: the kernel writes the sender's address to the user's buffer after this point. */
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	if (bpf_map_lookup_elem(&peer_arg, &tid)) {
		__u64 v = (__u64)sk;
		bpf_map_update_elem(&recv_sock, &tid, &v, BPF_ANY);
	}
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	long id = BPF_CORE_READ(regs, orig_ax);
	__u32 tid;

	switch (id) {
	case NR_accept:
	case NR_accept4:
		if (ret >= 0)
			send_accept(ret);
		return 0;
	case NR_recvfrom:
	case NR_recvmsg:
	case NR_recvmmsg: {
		tid = (__u32)bpf_get_current_pid_tgid();
		__u64 *sk = bpf_map_lookup_elem(&recv_sock, &tid);
		__u64 *uaddr = bpf_map_lookup_elem(&peer_arg, &tid);
		if (sk && uaddr && ret >= 0)
			send_udp_to_arg((const struct sock *)*sk, *uaddr, 1);
		break;
	}
	case NR_sendto:
	case NR_sendmsg:
	case NR_sendmmsg:
		tid = (__u32)bpf_get_current_pid_tgid();
		break;
	default:
		return 0;
	}
	bpf_map_delete_elem(&peer_arg, &tid);
	bpf_map_delete_elem(&recv_sock, &tid);
	return 0;
}
