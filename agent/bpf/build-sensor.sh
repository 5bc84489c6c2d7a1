#!/bin/sh
# Builds agent/bpf/build/oddwire-sensor with make (see the Makefile).
#   build-sensor.sh                 fails when a build tool is missing (npm run build:sensor)
#   build-sensor.sh --if-available  prints one line and succeeds instead (npm run build): the
#                                   agent then falls back to bpftrace, or to snapshots only.
set -eu
cd "$(dirname "$0")"
missing=""
for tool in make clang llvm-strip bpftool cc pkg-config; do
	command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -z "$missing" ] && ! pkg-config --exists libbpf; then missing=" libbpf (pkg-config)"; fi
if [ -z "$missing" ] && [ ! -r /sys/kernel/btf/vmlinux ]; then missing=" /sys/kernel/btf/vmlinux (kernel BTF, for vmlinux.h)"; fi
if [ -n "$missing" ]; then
	msg="oddwire-sensor not built: missing$missing (apt-get install clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev make pkg-config)"
	if [ "${1:-}" = "--if-available" ]; then
		echo "$msg; the agent will use bpftrace or snapshots only"
		exit 0
	fi
	echo "$msg" >&2
	exit 1
fi
# Up to date: say nothing (npm run build runs this every time).
make -q --no-print-directory 2>/dev/null && exit 0
exec make --no-print-directory
