// One replayed host of an evaluation fleet: processes and sockets as the
// agent's collectors would report them (no tags: `oddwire-agent replay`
// classifies each line as the agent does). Documentation addresses stand for
// the internet; nothing is contacted.

type Json = Record<string, unknown>;

export class EvalHost {
  readonly processes: Json[] = [];
  readonly sockets: Json[] = [];
  private nextPid = 2;
  private port = 40000;
  /** Processes and sockets added from here on belong to the planted case (absent from the host's older snapshot when the case is new). */
  caseFrom: { processes: number; sockets: number } | null = null;

  constructor(
    readonly id: string,
    readonly os: "linux" | "windows",
  ) {}

  proc(name: string, exe: string, cmdline: string, ppid = 1, extra: Json = {}): number {
    const pid = this.nextPid++ * 7;
    this.processes.push({ pid, ppid, name, exe, cmdline, user: this.os === "linux" ? "root" : "NT AUTHORITY\\SYSTEM", startedAtMs: "1764000000000", ...extra });
    return pid;
  }

  pidOf(name: string): number {
    const p = this.processes.find((x) => x["name"] === name);
    if (!p) throw new Error(`${this.id} runs no ${name}`);
    return p["pid"] as number;
  }

  listen(pid: number, port: number, transport = "tcp", address = "0.0.0.0"): void {
    this.sockets.push({ transport, family: 4, localAddress: address, localPort: port, state: transport === "tcp" ? "LISTEN" : "UNCONN", pid });
  }

  connect(pid: number, remote: string, port: number, transport = "tcp"): void {
    this.sockets.push({ transport, family: 4, localAddress: "10.1.0.5", localPort: this.port++, remoteAddress: remote, remotePort: port, state: "ESTABLISHED", pid });
  }

  markCase(): void {
    this.caseFrom ??= { processes: this.processes.length, sockets: this.sockets.length };
  }

  /** The host's snapshot at takenAtMs; withoutCase leaves the planted case out. */
  line(takenAtMs: number, withoutCase = false): string {
    const cut = withoutCase && this.caseFrom;
    return JSON.stringify({
      hostId: this.id,
      hostname: this.id,
      os: this.os,
      osVersion: this.os,
      agentVersion: "0.1.0",
      takenAtMs: String(takenAtMs),
      processes: cut ? this.processes.slice(0, this.caseFrom!.processes) : this.processes,
      sockets: cut ? this.sockets.slice(0, this.caseFrom!.sockets) : this.sockets,
    });
  }
}
