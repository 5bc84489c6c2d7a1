// SPDX-License-Identifier: Apache-2.0
/* oddwire sensor, user side: loads oddwire-sensor.bpf.c (CO-RE, through its
 * bpftool skeleton), attaches it, and writes one JSON line per event to
 * stdout in the layout agent/src/collect/linux/events/parse-bpftrace-line.ts
 * reads from bpftrace:
 *
 *   {"type":"value","data":["hello",1,NS]}                 attached, events follow
 *   {"type":"value","data":["exec",NS,PID,TID,UID,COMM,PPID,FILENAME]}
 *   {"type":"value","data":["connect",NS,PID,TID,UID,COMM,4|6,LADDR,LPORT,RADDR,RPORT,"established"|"failed"]}
 *   {"type":"value","data":["accept",NS,PID,TID,UID,COMM,4|6,LADDR,LPORT,RADDR,RPORT]}
 *   {"type":"value","data":["udp",NS,PID,TID,UID,COMM,4|6,LADDR,LPORT,RADDR,RPORT,"send"|"recv"]}
 *   {"type":"lost_events","data":{"events":N}}             N events found the ring buffer full
 *
 * NS is CLOCK_MONOTONIC nanoseconds. Strings are JSON text: valid UTF-8
 * passes through, ", \ and control characters (C0, DEL, C1) are escaped, and
 * each byte that is not part of valid UTF-8 is written as a lone surrogate
 * \udcXX (XX the byte), so no byte is lost and the line stays valid JSON.
 *
 * Usage: oddwire-sensor [--ring-bytes N]  (N a power of two, 4096..1 GiB;
 * default 1 MiB: the ring buffer between the kernel and this loader).
 *
 * Exit status: 0 after SIGINT/SIGTERM, 1 when the programs cannot be loaded
 * or attached (message on stderr), 2 when the kernel has no BTF, 3 when
 * stdout is gone or the ring buffer fails.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "oddwire-sensor.skel.h"
#include "oddwire-sensor.h"

#define KERNEL_BTF "/sys/kernel/btf/vmlinux"
/* The BPF side wakes us only when its ring is a quarter full; otherwise it is
 * drained on this timer, so an event reaches stdout at most this late. */
#define POLL_MS 100

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* libbpf's own messages (each starts "libbpf: "): warnings only. */
static int on_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not one (RFC 3629: no overlongs, no surrogates, ≤ U+10FFFF). */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* A kernel string (NUL-terminated within max bytes, or cut at max) as a JSON string. */
static void put_string(const char *raw, size_t max)
{
	const unsigned char *s = (const unsigned char *)raw;
	size_t n = strnlen(raw, max);

	putchar('"');
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		if (c == '"' || c == '\\') {
			putchar('\\');
			putchar(c);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			printf("\\u%04x", c);
			i++;
		} else if (c < 0x80) {
			putchar(c);
			i++;
		} else {
			size_t len = utf8_sequence(s + i, n - i);
			if (len == 0) {
				printf("\\udc%02x", c);
				i++;
			} else if (len == 2 && c == 0xc2 && s[i + 1] < 0xa0) {
				printf("\\u%04x", s[i + 1]); /* C1 control, U+0080..U+009F */
				i += 2;
			} else {
				fwrite(s + i, 1, len, stdout);
				i += len;
			}
		}
	}
	putchar('"');
}

static void put_address(__u16 family, const __u8 *addr)
{
	char text[INET6_ADDRSTRLEN];

	if (!inet_ntop(family == AF_INET ? AF_INET : AF_INET6, addr, text, sizeof(text)))
		strcpy(text, "?");
	printf("\"%s\"", text);
}

static int on_event(void *ctx, void *data, size_t size)
{
	const struct odw_event *e = data;
	static const char *const kinds[] = {[ODW_EXEC] = "exec", [ODW_CONNECT] = "connect", [ODW_ACCEPT] = "accept", [ODW_UDP] = "udp"};

	(void)ctx;
	if (size < offsetof(struct odw_event, filename) || e->kind < ODW_EXEC || e->kind > ODW_UDP)
		return 0;
	if (e->kind == ODW_EXEC && size < sizeof(*e))
		return 0;
	printf("{\"type\":\"value\",\"data\":[\"%s\",%llu,%u,%u,%u,", kinds[e->kind], (unsigned long long)e->mono_ns, e->pid, e->tid, e->uid);
	put_string(e->comm, sizeof(e->comm));
	if (e->kind == ODW_EXEC) {
		char args[ODW_ARGS_LEN + 1];
		__u32 n = e->args_len < ODW_ARGS_LEN ? e->args_len : ODW_ARGS_LEN;

		printf(",%u,", e->ppid);
		put_string(e->filename, sizeof(e->filename));
		/* argv joined by spaces, as the agent joins /proc/<pid>/cmdline. */
		while (n > 0 && e->args[n - 1] == 0)
			n--;
		for (__u32 i = 0; i < n; i++)
			args[i] = e->args[i] ? e->args[i] : ' ';
		args[n] = 0;
		fputc(',', stdout);
		put_string(args, n + 1);
	} else {
		printf(",%d,", e->family == AF_INET ? 4 : 6);
		put_address(e->family, e->laddr);
		printf(",%u,", e->lport);
		put_address(e->family, e->raddr);
		printf(",%u", e->rport);
		if (e->kind == ODW_CONNECT)
			fputs(e->flag ? ",\"established\"" : ",\"failed\"", stdout);
		else if (e->kind == ODW_UDP)
			fputs(e->flag ? ",\"recv\"" : ",\"send\"", stdout);
	}
	fputs("]}\n", stdout);
	return 0;
}

static __u64 lost_total(int map_fd, int ncpus, __u64 *per_cpu)
{
	__u32 zero = 0;
	__u64 sum = 0;

	if (bpf_map_lookup_elem(map_fd, &zero, per_cpu) != 0)
		return 0;
	for (int i = 0; i < ncpus; i++)
		sum += per_cpu[i];
	return sum;
}

static __u64 monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

static int load_error(const char *what, int err)
{
	fprintf(stderr, "oddwire-sensor: cannot %s the BPF programs: %s", what, strerror(err));
	if (err == EPERM || err == EACCES)
		fputs(" (the sensor needs CAP_BPF and CAP_PERFMON, or root; under systemd also SystemCallFilter must allow bpf)", stderr);
	fputc('\n', stderr);
	return 1;
}

int main(int argc, char **argv)
{
	struct oddwire_sensor_bpf *skel = NULL;
	struct ring_buffer *rb = NULL;
	__u64 *per_cpu = NULL;
	__u64 reported = 0;
	int ncpus, err, status = 0;

	unsigned long long ring_bytes = 1 << 20;

	if (argc == 3 && strcmp(argv[1], "--ring-bytes") == 0) {
		char *end;
		errno = 0;
		ring_bytes = strtoull(argv[2], &end, 10);
		if (errno || *end || ring_bytes < 4096 || ring_bytes > (1ULL << 30) || (ring_bytes & (ring_bytes - 1))) {
			fprintf(stderr, "oddwire-sensor: --ring-bytes %s is not a power of two from 4096 to 1073741824\n", argv[2]);
			return 1;
		}
	} else if (argc > 1) {
		fprintf(stderr, "usage: %s [--ring-bytes N]\n  prints one JSON line per connection and exec event until SIGINT or SIGTERM\n", argv[0]);
		return strcmp(argv[1], "--help") == 0 ? 0 : 1;
	}
	if (access(KERNEL_BTF, R_OK) != 0) {
		fprintf(stderr, "oddwire-sensor: the kernel has no readable BTF at %s (%s); the sensor needs a kernel built with CONFIG_DEBUG_INFO_BTF=y\n", KERNEL_BTF, strerror(errno));
		return 2;
	}
	libbpf_set_print(on_libbpf_print);

	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	skel = oddwire_sensor_bpf__open();
	if (!skel)
		return load_error("open", errno);
	skel->rodata->wakeup_bytes = ring_bytes / 4;
	err = bpf_map__set_max_entries(skel->maps.events, (__u32)ring_bytes);
	if (err) {
		status = load_error("size the ring buffer of", -err);
		goto out;
	}
	err = oddwire_sensor_bpf__load(skel);
	if (err) {
		status = load_error("load", -err);
		goto out;
	}
	err = oddwire_sensor_bpf__attach(skel);
	if (err) {
		status = load_error("attach", -err);
		goto out;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, NULL, NULL);
	if (!rb) {
		status = load_error("read the ring buffer of", errno);
		goto out;
	}
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0) {
		status = load_error("count the CPUs for", -ncpus);
		goto out;
	}
	per_cpu = calloc((size_t)ncpus, sizeof(*per_cpu));
	if (!per_cpu) {
		status = load_error("allocate for", ENOMEM);
		goto out;
	}

	printf("{\"type\":\"value\",\"data\":[\"hello\",1,%llu]}\n", (unsigned long long)monotonic_ns());
	fflush(stdout);
	while (!stopping) {
		err = ring_buffer__poll(rb, POLL_MS);
		if (err >= 0 || err == -EINTR)
			err = ring_buffer__consume(rb);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "oddwire-sensor: reading the ring buffer failed: %s\n", strerror(-err));
			status = 3;
			break;
		}
		__u64 lost = lost_total(bpf_map__fd(skel->maps.lost), ncpus, per_cpu);
		if (lost > reported) {
			printf("{\"type\":\"lost_events\",\"data\":{\"events\":%llu}}\n", (unsigned long long)(lost - reported));
			reported = lost;
		}
		if (fflush(stdout) != 0 || ferror(stdout)) {
			fprintf(stderr, "oddwire-sensor: cannot write events: %s\n", strerror(errno));
			status = 3;
			break;
		}
	}
out:
	ring_buffer__free(rb);
	oddwire_sensor_bpf__destroy(skel);
	free(per_cpu);
	return status;
}
