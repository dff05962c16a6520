// A file that could not be opened, read or written, in words: Node's own message is "ENOENT: no such file or directory, open 'x'".

const REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'it is a folder',
  ENOTDIR: 'a part of the path is not a folder',
  EEXIST: 'it exists already',
  EMFILE: 'too many open files',
  ENOSPC: 'no space left on the device',
  EROFS: 'read-only file system',
};

/** A file system error of Node (with its `code` and `path`): the path, and why in words with the code; undefined for any other error. */
export function fileProblem(err: unknown): { path: string; reason: string } | undefined {
  const { code, path } = (err ?? {}) as { code?: unknown; path?: unknown };
  if (typeof code !== 'string' || typeof path !== 'string') return undefined;
  const words = REASONS[code] ?? (err as Error).message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
  return { path, reason: `${words} (${code})` };
}
