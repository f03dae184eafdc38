// browser.mjs - what every browser test (wizard.mjs, portal.mjs, spam.mjs)
// starts and ends with: its configuration from argv, headless Chromium
// (Debian's /usr/bin/chromium through playwright-core) with one page, the
// problems the page shows by itself, and the verdict line.
//
// A test fails on any step that does not show what it should, and also on
// what no step looks for: a console error, an uncaught page error, or a
// request to a host other than the server (the web UI must work offline),
// or a dialog (alert(), confirm(), prompt(): the UI opens none).
// Those are collected in `problems` while the steps run and decide the
// verdict with the steps' own failure: the last stdout line is DONE (exit
// 0) or FAILED followed by every problem (exit 1).
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const log = (msg) => process.stdout.write(`browser: ${msg}\n`);

// The JSON object in argv[2]; `required` names the keys it must have (or is
// a function of the object that does). The artifacts folder is created.
export function config(required) {
	const cfg = JSON.parse(process.argv[2] || '{}');
	for (const k of typeof required === 'function' ? required(cfg) : required)
		if (!cfg[k])
			throw new Error(`missing config ${k}`);
	mkdirSync(cfg.artifacts, { recursive: true });
	return cfg;
}

// Starts Chromium on a page that may reach cfg.url's origin only.
export async function open(cfg, { width = 1280, downloads = false, timeout = 15000 } = {}) {
	const problems = [];
	const browser = await chromium.launch({
		executablePath: cfg.chromium || '/usr/bin/chromium',
		headless: true,
		// Root in a container: Chromium's sandbox cannot start there.
		// No name resolves but loopback's: Debian's Chromium still calls
		// Google (update.googleapis.com, accounts.google.com,
		// content-autofill.googleapis.com) with playwright's switches that
		// should stop it, and each call is a DNS query to the machine's
		// resolver, off loopback (scripts/netcheck).
		args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
			'--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost'],
		timeout: 30000,
	});
	const origin = new URL(cfg.url).origin;
	const context = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: downloads, viewport: { width, height: 900 } });
	context.setDefaultTimeout(timeout);
	await context.route('**/*', async (route) => {
		const u = route.request().url();
		const same = u.startsWith(origin + '/') || u === origin;
		if (!same)
			problems.push(`request to another origin: ${u}`);
		try {
			await (same ? route.continue() : route.abort());
		} catch (e) {
			// Playwright can hand this route a request that was
			// already answered: continue() then throws "Route is
			// already handled!" (seen once, against the ASan server,
			// in spam.mjs's step whose page route answers a request
			// itself; unawaited, the rejection ended the whole run).
			// Such a request needs nothing more, nor does one whose
			// page or browser has closed; any other error is a
			// problem of the run.
			if (!/Route is already handled|has been closed/.test(e.message))
				problems.push(`route ${u}: ${e.message}`);
		}
	});
	const page = await context.newPage();
	page.on('console', (m) => {
		// Chromium logs every non-2xx fetch as a console error; expected
		// ones (401 on GET /session before signing in, a wrong code) are
		// checked by the steps themselves.
		if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
			problems.push(`console error: ${m.text()}`);
	});
	page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
	// The UI asks in place and never opens alert(), confirm() or prompt():
	// a dialog is script that should not have run (hostile.mjs's markup).
	page.on('dialog', (d) => {
		problems.push(`a ${d.type()} dialog opened: ${d.message()}`);
		d.dismiss().catch(() => {});
	});
	let shot = 0;
	return {
		browser, origin, page, problems,
		byId: (id) => page.getByTestId(id),
		// A full-page screenshot in artifacts, numbered in the order taken.
		async screenshot(name) {
			const file = join(cfg.artifacts, `${String(++shot).padStart(2, '0')}-${name}.png`);
			await page.screenshot({ path: file, fullPage: true });
			log(`screenshot ${file}`);
		},
	};
}

// Ends the admin session of page (whose origin is url) from another
// client with its cookie, as a sign-out in another tab, or an expiry,
// would: the page's next call meets it ended.
export async function endSession(page, url) {
	const rq = page.context().request;
	const s = await rq.get(url + '/api/v1/session');
	const d = await rq.delete(url + '/api/v1/session', { headers: { 'X-CSRF-Token': (await s.json()).csrf } });
	if (d.status() !== 204)
		throw new Error(`DELETE /session answered ${d.status()}`);
}

// Runs the test's steps, then closes the browser and ends the process with
// the verdict. A step that throws is a problem too; the page as it was
// then is kept as the screenshot "failure".
export async function finish(b, steps) {
	try {
		await steps();
	} catch (e) {
		b.problems.push(e.stack || String(e));
		try {
			await b.screenshot('failure');
		} catch (e2) {
			/* the page is gone */
		}
	}
	await b.browser.close();
	if (b.problems.length) {
		process.stdout.write(`FAILED\n${b.problems.join('\n')}\n`);
		process.exit(1);
	}
	process.stdout.write('DONE\n');
	process.exit(0);
}
