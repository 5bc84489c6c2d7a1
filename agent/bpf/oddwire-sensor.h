/* oddwire sensor: the record the BPF side writes to the ring buffer and the
 * loader reads. Shared by oddwire-sensor.bpf.c and oddwire-sensor.c, so the
 * two always agree on the layout. */
#ifndef ODDWIRE_SENSOR_H
#define ODDWIRE_SENSOR_H

#define ODW_COMM_LEN 16
#define ODW_FILENAME_LEN 256
/* The first bytes of an exec's argv (NUL-separated, as in /proc/<pid>/cmdline):
 * the agent's fallback when the process is gone before it reads /proc. */
#define ODW_ARGS_LEN 512

enum odw_kind { ODW_EXEC = 1, ODW_CONNECT = 2, ODW_ACCEPT = 3, ODW_UDP = 4 };

/* connect: 1 = established, 0 = failed. udp: 0 = send, 1 = recv. */
struct odw_event {
	__u64 mono_ns;
	__u32 kind;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__u32 ppid;
	__u16 family; /* AF_INET or AF_INET6 */
	__u16 lport;  /* host order */
	__u16 rport;  /* host order */
	__u8 flag;
	__u8 pad;
	__u8 laddr[16];
	__u8 raddr[16];
	char comm[ODW_COMM_LEN];
	char filename[ODW_FILENAME_LEN];
	__u32 args_len; /* bytes of args read (exec only) */
	__u32 pad2;
	char args[ODW_ARGS_LEN];
};

#endif
