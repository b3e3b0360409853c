import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/**
 * The admin dashboard, served by the service under `/dashboard/` from `dist/dashboard/`.
 * `nest build` empties `dist/` first, so this build runs after it and keeps what Nest wrote.
 */
export default defineConfig({
  root: here('.'),
  base: '/dashboard/',
  publicDir: false,
  build: {
    outDir: here('../dist/dashboard'),
    emptyOutDir: false,
    assetsDir: 'assets',
    target: 'es2022',
    // Everything is a file of its own: the page's CSP allows no inline script or style.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
});
