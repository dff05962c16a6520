// Serves the dashboard: the one-page app in src/dashboard, uPlot from its npm package, and the app's own paths answered with its page so that every view's URL can be shared.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** The app's paths (src/dashboard/app.js routes): each answers with index.html, which renders the view. */
const APP_PATHS = ['/', '/explorer', '/events/:event_id', '/model', '/health', '/admin'];

export interface Asset {
  url: string;
  type: string;
  body: Buffer;
}

/** Every file under the dashboard folder, read once at start: nothing on disk is reached by a request's path. */
export function dashboardAssets(): Asset[] {
  const root = fileURLToPath(new URL('../dashboard/', import.meta.url));
  const assets: Asset[] = [];
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    const type = TYPES[path.extname(entry.name)];
    if (!entry.isFile() || type === undefined) continue;
    const file = path.join(entry.parentPath, entry.name);
    assets.push({ url: `/${path.relative(root, file).split(path.sep).join('/')}`, type, body: readFileSync(file) });
  }
  // uPlot's ES module and stylesheet, as installed by npm: no CDN.
  const require = createRequire(import.meta.url);
  assets.push({ url: '/vendor/uplot.js', type: TYPES['.js']!, body: readFileSync(require.resolve('uplot/dist/uPlot.esm.js')) });
  assets.push({ url: '/vendor/uplot.css', type: TYPES['.css']!, body: readFileSync(require.resolve('uplot/dist/uPlot.min.css')) });
  return assets;
}

/** The page every app path answers with. */
export const dashboardPage = (assets: readonly Asset[]): Asset => assets.find((a) => a.url === '/index.html')!;

/** What the dashboard answers at `pathname` (files, then app paths), for a server without its routes: the first start's. */
export function dashboardAt(assets: readonly Asset[], pathname: string): Asset | undefined {
  const asset = assets.find((a) => a.url === pathname && a.url !== '/index.html');
  if (asset !== undefined) return asset;
  const segments = pathname.split('/');
  const appPath = APP_PATHS.some((p) => {
    const pattern = p.split('/');
    return pattern.length === segments.length && pattern.every((part, i) => (part.startsWith(':') ? segments[i] !== '' : part === segments[i]));
  });
  return appPath ? dashboardPage(assets) : undefined;
}

export function registerDashboard(app: FastifyInstance): void {
  const assets = dashboardAssets();
  const page = dashboardPage(assets);
  for (const asset of assets) {
    if (asset === page) continue;
    app.get(asset.url, { schema: { hide: true } }, (_req, reply) => reply.type(asset.type).header('cache-control', 'no-cache').send(asset.body));
  }
  for (const url of APP_PATHS) app.get(url, { schema: { hide: true } }, (_req, reply) => reply.type(page.type).header('cache-control', 'no-cache').send(page.body));
}
