// Headless Debian Chromium through playwright-core; skipped locally when it is not installed, required under CI.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

const CHROMIUM = process.env.RTDS_TEST_CHROMIUM ?? '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser | { skip: string }> {
  if (!existsSync(CHROMIUM)) {
    if (process.env.CI === 'true') throw new Error(`Chromium is required under CI at ${CHROMIUM} (apt-get install -y chromium)`);
    return { skip: `no Chromium at ${CHROMIUM} (apt-get install -y chromium)` };
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** Where browser tests leave their screenshots (kept by CI as artefacts, never committed). */
export const SCREENSHOTS = path.resolve('test-artifacts', 'screenshots');

/**
 * Screenshot `page` at a phone's width (390 px) and a desktop's (1440 px) as
 * `test-artifacts/screenshots/<name>-<width>.png`, and return, per width, how much wider than the
 * viewport the page is (0 when nothing scrolls sideways).
 */
export async function screenshotWidths(page: Page, name: string): Promise<Record<number, number>> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const overflow: Record<number, number> = {};
  for (const width of [390, 1440]) {
    await page.setViewportSize({ width, height: 900 });
    // Layout settles on the next frame after a resize (charts follow their box).
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    overflow[width] = await page.evaluate(() => Math.max(0, document.documentElement.scrollWidth - window.innerWidth));
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-${width}.png`), fullPage: true });
  }
  return overflow;
}
