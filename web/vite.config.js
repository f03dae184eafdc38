// Vite build of the tern admin UI. The output in ../build/web is turned into
// a C table (scripts/gen-web-assets.mjs) and embedded in build/tern.
// Preact's JSX goes through esbuild directly: no Babel, no plugins.
import { defineConfig } from 'vite';

export default defineConfig({
	esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
	resolve: {
		alias: { react: 'preact/compat', 'react-dom': 'preact/compat' },
	},
	build: {
		outDir: '../build/web',
		emptyOutDir: true,
		assetsDir: 'assets',
		target: 'es2020',
		// The CSP allows scripts from 'self' only: no inline module-preload
		// polyfill, no inlined assets as data: URLs.
		modulePreload: { polyfill: false },
		assetsInlineLimit: 0,
		sourcemap: false,
	},
});
