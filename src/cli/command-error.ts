// A command's failure the user can act on: main prints its one line (no stack trace) and exits with its code.

/** Exit codes every command shares: 1 failed, 2 a usage error (an unknown command or flag), 3 a model registered but not activated. */
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_NOT_ACTIVATED = 3;

export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    message: string,
    readonly exitCode: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
