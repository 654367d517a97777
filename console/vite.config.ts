import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The web console: Preact + hls.js, bundled by Vite into dist/console/ (served by the ops API at `/`).
 * JSX goes through esbuild's automatic runtime with Preact as its source, so no framework plugin is
 * needed. hls.js is loaded on the first preview only (a separate chunk): the first load stays small.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  logLevel: 'warn',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: fileURLToPath(new URL('../dist/console/', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // The console is shipped with the server: no source maps in the package.
    sourcemap: false,
    // hls.js alone is ~500 kB minified; it is its own lazily loaded chunk.
    chunkSizeWarningLimit: 700,
  },
});
