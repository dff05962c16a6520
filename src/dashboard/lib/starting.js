// While RTDS starts — its first model training — the page says what it waits for, with the progress, and loads its views once the API serves.
import { api, ApiError } from './api.js';

const POLL_MS = 1000;

/** Resolves once the server no longer says it is starting; meanwhile `banner` shows its words and a bar of the percent in them. */
export async function untilStarted(banner) {
  const words = banner.querySelector('[data-starting-words]');
  const bar = banner.querySelector('progress');
  for (;;) {
    let reason;
    try {
      await api('/readyz');
    } catch (err) {
      // The starting server marks its answer; the full API's own 503 (store, lag) is for the health page.
      if (err instanceof ApiError && err.body?.starting === true) reason = err.body.reasons?.[0];
    }
    if (reason === undefined) {
      banner.hidden = true;
      return;
    }
    words.textContent = `RTDS is ${reason}. The dashboard opens once it is ready.`;
    const percent = /\((\d+) %\)/.exec(reason)?.[1];
    bar.hidden = percent === undefined;
    if (percent !== undefined) bar.value = Number(percent);
    banner.hidden = false;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
