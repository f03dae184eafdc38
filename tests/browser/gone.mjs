#!/usr/bin/env node
// gone.mjs - the web admin when the server stops answering, in headless
// Chromium (playwright-core, Debian's chromium): signed in, with the
// Accounts page open, the caller stops tern ("STOP" on stdout, "OK" on
// stdin once it is down). Then an account's panel and every page of the
// navigation (the app is loaded: only their API calls fail) must each end
// with the error said ("The server cannot be reached.") and nothing still
// marked busy: no "Loading…" left spinning over an error. Before that, a
// reverse proxy's 502 page (Playwright answers as one would) is said in
// words, not as "HTTP 502".
//
//   node tests/browser/gone.mjs '{"url":..., "admin_password":..., "email":..., "artifacts":...}'
//
// With "wizard": true, the first-run wizard's DNS step instead, with
// "portal": true the account portal's first load (below).
// Driven by tests/proto/test_webui_errors.py. Fails (exit 1) on a page
// that does not settle so, a console error, or a request to another host.
import { ask } from './ask.mjs';
import { config, finish, log, open } from './browser.mjs';

const cfg = config((c) => (c.portal ? ['url', 'artifacts'] : c.wizard ? ['url', 'admin_password', 'artifacts'] : ['url', 'admin_password', 'email', 'artifacts']));
const b = await open(cfg);
const { page, byId, screenshot } = b;
const GONE = 'The server cannot be reached.';

// Waits for `where` to say GONE with no busy element left; the page's
// text and busy elements in the error otherwise.
async function settles(name, where = 'main') {
	try {
		await page.waitForFunction(([sel, text]) => {
			const root = document.querySelector(sel);
			return root && root.textContent.includes(text) && !root.querySelector('[aria-busy=true]');
		}, [where, GONE], { timeout: 10000 });
	} catch (e) {
		await screenshot(`gone-${name}`);
		const st = await page.evaluate((sel) => {
			const root = document.querySelector(sel);
			return { text: root ? root.innerText.slice(0, 600) : '(none)',
				busy: root ? [...root.querySelectorAll('[aria-busy=true]')].map((x) => x.textContent) : [] };
		}, where);
		throw new Error(`${name} with the server gone: busy ${JSON.stringify(st.busy)}; shows: ${st.text}`);
	}
	log(`gone: ${name} says the server cannot be reached`);
}

// cfg.wizard: every answer of the first-run wizard is given by an
// environment variable and an account exists, so once signed in its steps
// go on without a call; the server stops, and the DNS step's two loads
// both fail.
async function wizard() {
	await page.goto(cfg.url + '/', { waitUntil: 'domcontentloaded' });
	await byId('admin-password').fill(cfg.admin_password);
	await byId('wizard-next').click();
	await byId('wizard-step-hostname').waitFor();
	if ((await ask('STOP')) !== 'OK')
		throw new Error('the server did not stop');
	for (const s of ['hostname', 'domain'])
		await byId(`wizard-step-${s}`).getByTestId('wizard-next').click();
	await byId('wizard-skip').click();
	await byId('wizard-step-relay').getByTestId('wizard-next').click();
	await byId('wizard-step-dns').waitFor();
	await settles('the wizard\'s DNS step', '.wizard');
}

// cfg.portal: the account portal's first GET /me is held until the server
// has stopped, then sent: it fails as the network fails. The portal must
// say so, not show its sign-in form as if the session had ended.
async function portal() {
	await page.route('**/api/v1/me', async (route) => {
		if ((await ask('STOP')) !== 'OK')
			throw new Error('the server did not stop');
		await route.continue();
	});
	await page.goto(cfg.url + '/account', { waitUntil: 'domcontentloaded' });
	await settles('the portal', 'main');
	if (await byId('portal-login').count())
		throw new Error('the portal shows its sign-in form for a server that cannot be reached');
	await byId('portal-retry').waitFor();
}

await finish(b, async () => {
	if (cfg.wizard)
		return wizard();
	if (cfg.portal)
		return portal();
	await page.goto(cfg.url + '/', { waitUntil: 'domcontentloaded' });
	await byId('login-password').fill(cfg.admin_password);
	await byId('login-submit').click();
	await byId('nav-accounts').click();
	const row = page.locator(`[data-testid=account-row][data-email="${cfg.email}"]`);
	await row.waitFor();
	// A reverse proxy in front of tern answers for it while tern restarts:
	// its own HTML page, no problem document. The page says what it means.
	await page.route('**/api/v1/queue?*', (route) => route.fulfill({
		status: 502, contentType: 'text/html', body: '<html><body><h1>502 Bad Gateway</h1></body></html>',
	}));
	await byId('nav-queue').click();
	await page.getByRole('alert').filter({ hasText: 'The server is not answering right now (HTTP 502)' }).waitFor({ timeout: 5000 })
		.catch(async () => {
			throw new Error(`a proxy's 502 is shown as: ${(await page.getByRole('alert').allTextContents()).join(' | ')}`);
		});
	await page.unroute('**/api/v1/queue?*');
	log('gone: a proxy\'s 502 is said plainly');
	await byId('nav-accounts').click();
	await row.waitFor();
	if ((await ask('STOP')) !== 'OK')
		throw new Error('the server did not stop');
	await row.locator('[data-testid=account-edit]').click();
	await settles('the account panel');
	for (const nav of ['dashboard', 'domains', 'accounts', 'aliases', 'queue', 'backups', 'spam', 'logs', 'settings']) {
		await byId(`nav-${nav}`).click();
		await settles(`the ${nav} page`);
	}
});
