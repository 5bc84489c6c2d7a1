// A process's chain of parents, for "nginx(812) > bash(4410) > curl(4411)".
// Stops below pid 1 (init) and kthreadd (2), at a pid it has already seen
// (pid reuse can make a cycle) and at MAX_DEPTH.

export const MAX_ANCESTRY_DEPTH = 32;

export interface AncestryNode {
  pid: number;
  ppid: number;
  name: string;
}

/** Oldest first, ending with the process itself. */
export function ancestry<P extends AncestryNode>(pid: number, byPid: ReadonlyMap<number, P>): P[] {
  const chain: P[] = [];
  const seen = new Set<number>();
  let current = byPid.get(pid);
  while (current && !seen.has(current.pid) && chain.length < MAX_ANCESTRY_DEPTH) {
    chain.push(current);
    seen.add(current.pid);
    if (current.ppid <= 2) break;
    current = byPid.get(current.ppid);
  }
  return chain.reverse();
}

export function formatAncestry(chain: readonly AncestryNode[]): string {
  return chain.map((p) => `${p.name}(${p.pid})`).join(" > ");
}
