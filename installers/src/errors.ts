// Packaging fails with one line that says what to fix; PackagingError carries it.

export class PackagingError extends Error {
  override name = "PackagingError";
}
