#!/usr/bin/env node
// dkim.mjs - the domain page's "Import a DKIM key" form in headless Chromium
// (playwright-core, Debian's chromium): an RSA-1024 key imported (the
// notice and the RFC 8301 warning shown, the key cleared from the form),
// then a certificate refused with the server's sentence under the key
// field.
//
//   node tests/browser/dkim.mjs '{"url":..., "admin_password":..., "domain":..., "selector":..., "key":..., "cert":..., "artifacts":...}'
//
// Driven by tests/proto/test_webui_dkim.py, which reads the result back
// through the API. Fails (exit 1) on a step that does not show what it
// should, a console error, or a request to another host.
import { config, finish, open } from './browser.mjs';

const cfg = config(['url', 'admin_password', 'domain', 'selector', 'key', 'cert', 'artifacts']);
const b = await open(cfg);
const { page, byId, screenshot } = b;

async function importKey(text) {
	await byId('dkim-import-key').fill(text);
	await Promise.all([
		page.waitForResponse((r) => r.request().method() === 'POST' && /\/dkim\/import$/.test(r.url())),
		byId('dkim-import-submit').click(),
	]);
}

await finish(b, async () => {
	await page.goto(cfg.url + '/', { waitUntil: 'domcontentloaded' });
	await byId('login').waitFor();
	await byId('login-password').fill(cfg.admin_password);
	await byId('login-submit').click();
	await byId('nav-domains').click();
	await page.getByRole('link', { name: cfg.domain }).click();
	await byId('dkim-import').waitFor();
	await byId('dkim-import-selector').fill(cfg.selector);
	await importKey(cfg.key);
	await byId('dkim-import-done').getByText(`Imported: ${cfg.selector} (rsa-sha256)`).waitFor();
	await byId('dkim-import-warning').getByText('2048 is recommended').waitFor();
	if ((await byId('dkim-import-key').inputValue()) !== '')
		throw new Error('the private key stayed in the form');
	await byId('dkim-table').getByText(cfg.selector, { exact: true }).waitFor();
	await screenshot('dkim-imported');

	await importKey(cfg.cert);
	await byId('dkim-import').getByText('a certificate, not a private key').waitFor();
	await screenshot('dkim-refused');
});
