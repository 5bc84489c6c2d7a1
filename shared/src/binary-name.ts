// The name a binary is known by: the basename of its executable when there is
// one (the kernel resolves it; a process cannot fake it), else the name the
// process gives itself.

export function basename(path: string): string {
  const i = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return path.slice(i + 1);
}

export function dirname(path: string): string {
  const i = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return i <= 0 ? path.slice(0, i + 1) : path.slice(0, i);
}

export function binaryName(p: { readonly exe: string; readonly name: string }): string {
  return p.exe ? basename(p.exe) : p.name;
}
