import { defineConfig } from 'vitest/config';

// The UI is served by the vitals binary at `/`; during `npm run dev` the API calls go to a
// running vitals (VITALS_URL, default http://127.0.0.1:9797).
const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
const backend = env.VITALS_URL ?? 'http://127.0.0.1:9797';

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    target: 'es2020',
    sourcemap: false,
    emptyOutDir: true,
  },
  server: {
    proxy: {
      '/api': { target: backend, changeOrigin: true },
      '/-': { target: backend, changeOrigin: true },
    },
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
  },
});
