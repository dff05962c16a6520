// Reading records that any producer may have written: text that is not JSON is no record, not an error.

/** The JSON value of `text`, or undefined when it is not JSON. */
export function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
