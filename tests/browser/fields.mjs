#!/usr/bin/env node
// fields.mjs - a refusal that names a field (API.md: the problem's
// `field`) is said under that field, in headless Chromium: marked
// aria-invalid and described by the server's own words, as a screen
// reader reads them. A new domain that is not a domain name (Domains), a
// weak new password on an account's panel (Accounts), a bad entry in a
// list typed in a text area (Spam: the global block list and a scope's
// allow list; Settings: the tolerated DMARC domains).
//
//   node tests/browser/fields.mjs '{"url":..., "admin_password":..., "email":..., "artifacts":...}'
//
// Driven by tests/proto/test_webui_errors.py. Fails (exit 1) on a refusal
// shown elsewhere, a console error, or a request to another host.
import { config, finish, log, open } from './browser.mjs';

const cfg = config(['url', 'admin_password', 'email', 'artifacts']);
const b = await open(cfg);
const { page, byId, screenshot } = b;

// Runs submit(), which the server refuses with 400 naming a field; the
// input `testid` must then be invalid and described by that detail.
async function refusedUnder(testid, submit) {
	const [resp] = await Promise.all([
		page.waitForResponse((r) => r.url().includes('/api/v1/') && r.status() === 400),
		submit(),
	]);
	const detail = (await resp.json()).detail;
	try {
		await page.waitForFunction(([id, text]) => {
			const el = document.querySelector(`[data-testid="${id}"]`);
			const hint = el && el.getAttribute('aria-describedby') && document.getElementById(el.getAttribute('aria-describedby'));
			return el && el.getAttribute('aria-invalid') === 'true' && hint && hint.textContent === text;
		}, [testid, detail], { timeout: 5000 });
	} catch (e) {
		await screenshot(`refused-${testid}`);
		throw new Error(`"${detail}" is not said under ${testid}`);
	}
	log(`fields: ${testid} says "${detail}"`);
}

await finish(b, async () => {
	await page.goto(cfg.url + '/', { waitUntil: 'domcontentloaded' });
	await byId('login-password').fill(cfg.admin_password);
	await byId('login-submit').click();

	await byId('nav-domains').click();
	await byId('domain-name').fill('bad..example');
	await refusedUnder('domain-name', () => byId('domain-add').click());

	await byId('nav-accounts').click();
	const row = page.locator(`[data-testid=account-row][data-email="${cfg.email}"]`);
	await row.locator('[data-testid=account-edit]').click();
	await byId('reset-password').fill('aaaaaaaa');
	// The strength meter comes 300 ms after typing stops (a round trip
	// to the server) and pushes the Set password button down: clicked
	// while it appears, the click can miss the button (CI did).
	await byId('reset-password-meter').waitFor();
	await byId('reset-password-current').fill(cfg.admin_password);
	await refusedUnder('reset-password', () => byId('reset-password-submit').click());
	await screenshot('refused-password');

	// The lists in text areas: the Spam page's global block list, a scope's
	// allow list, and Settings' tolerated DMARC domains.
	await byId('nav-spam').click();
	await byId('spam-block').fill('not valid!!');
	await refusedUnder('spam-block', () => byId('spam-save').click());
	await byId('spam-block').fill('');
	await byId('spam-scope-name').fill(cfg.email);
	await byId('spam-scope-load').click();
	await byId('spam-scope-allow').fill('not valid!!');
	await refusedUnder('spam-scope-allow', () => byId('spam-scope-save').click());
	await byId('nav-settings').click();
	await byId('auth-tolerated').fill('not a domain!!');
	await refusedUnder('auth-tolerated', () => byId('auth-save').click());
});
