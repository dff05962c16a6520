// Why the configured database cannot be opened: in terms an operator acts on (which database, what to do).

/** PostgreSQL (RTDS_DATABASE_URL) does not answer, or refuses the connection. */
export class DatabaseUnreachableError extends Error {
  override readonly name = 'DatabaseUnreachableError';
  constructor(
    /** The URL without its password. */
    readonly where: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`PostgreSQL at ${where} is unreachable: ${reason} (RTDS_DATABASE_URL)`, options);
  }
}

/** Another live process holds the embedded database: two PGlite instances on one folder would corrupt it. */
export class DatabaseLockedError extends Error {
  override readonly name = 'DatabaseLockedError';
  constructor(
    readonly lockFile: string,
    readonly pid: number,
  ) {
    super(
      `the embedded database is in use by process ${pid} (${lockFile}): only one process can open it — stop that one, or while rtds start runs use its REST API`,
    );
  }
}

/** The URL as it may be printed: its password replaced. */
export function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.href;
  } catch {
    return '(an unreadable URL)';
  }
}
