#!/usr/bin/env node
// hostile.mjs - the pages that show what strangers send, in headless
// Chromium (playwright-core, Debian's chromium), with that data carrying
// <script>, "><img onerror=...>, javascript: URLs, a bidi override and a
// 600-character word (tests/proto/test_webui_hostile.py delivers them).
// Each page must show the hostile text as text: the text is there, no
// element or attribute came out of it (no img, script, iframe, object or
// embed in the page's main part, no on* attribute, no javascript: link),
// nothing sticks out of its box at 1280 and 360 px, a bidi override stays
// isolated from the text around it, and (browser.mjs) no
// dialog opened, no console error (a Content-Security-Policy refusal is
// one) and no request left for another host.
//
//   node tests/browser/hostile.mjs '{"url":..., "admin_password":..., "user":..., "user_password":..., "texts":{...}, "log_text":..., "artifacts":...}'
import { config, finish, log, open } from './browser.mjs';
import { overflow } from './layout.mjs';

const cfg = config(['url', 'admin_password', 'user', 'user_password', 'texts', 'log_text', 'artifacts']);
const b = await open(cfg);
const { page, byId, screenshot } = b;
const t = cfg.texts;

// Waits until the page's text holds every one of texts, then checks that
// nothing in it turned into markup and that it fits at both widths.
async function showsAsText(name, texts) {
	try {
		await page.waitForFunction((want) => {
			const seen = document.body.innerText + ' ' +
				[...document.querySelectorAll('input, textarea')].map((e) => e.value).join(' ');
			return want.every((w) => seen.includes(w));
		}, texts, { timeout: 15000 });
	} catch (e) {
		throw new Error(`${name}: the page does not show ${JSON.stringify(texts).slice(0, 300)}`);
	}
	const found = await page.evaluate(() => {
		const bad = [];
		for (const el of document.querySelectorAll('main img, main script, main iframe, main object, main embed, main frame'))
			bad.push(el.outerHTML.slice(0, 120));
		for (const el of document.querySelectorAll('*')) {
			for (const a of el.attributes) {
				if (/^on/i.test(a.name))
					bad.push(`${el.tagName} ${a.name}=${a.value.slice(0, 60)}`);
				if (/^(href|src|action|formaction|xlink:href)$/i.test(a.name) && /^\s*javascript:/i.test(a.value))
					bad.push(`${el.tagName} ${a.name}=${a.value.slice(0, 60)}`);
			}
		}
		// A bidi override is kept in its place: the element around it
		// isolates it (<bdi>, unicode-bidi: isolate), or is a block that
		// holds nothing else. Else the text after it on the line (a
		// state badge, a button's name) reads backwards.
		const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
		for (let n = walker.nextNode(); n; n = walker.nextNode()) {
			if (!/[\u202a-\u202e\u2066-\u2069]/.test(n.data))
				continue;
			const el = n.parentElement, cs = getComputedStyle(el);
			const isolated = /isolate|plaintext/.test(cs.unicodeBidi) ||
				(cs.display !== 'inline' && el.childNodes.length === 1);
			if (!isolated)
				bad.push(`a bidi override not isolated in ${el.tagName}: ${el.outerHTML.slice(0, 80)}`);
		}
		// The one script is the bundle, from the server.
		for (const s of document.querySelectorAll('script'))
			if (!s.src || new URL(s.src).origin !== location.origin)
				bad.push(`script ${s.src || s.textContent.slice(0, 60)}`);
		return bad;
	});
	// Noted, not thrown: one run names every page that goes wrong.
	const before = b.problems.length;
	if (found.length)
		b.problems.push(`${name}: markup came out of the data: ${found.join('; ')}`);
	await screenshot(name);
	for (const width of [1280, 360]) {
		await page.setViewportSize({ width, height: 900 });
		const over = await overflow(page);
		if (over) {
			await screenshot(`${name}-${width}-overflow`);
			b.problems.push(`${name} at ${width} px: ${over}`);
		}
	}
	await page.setViewportSize({ width: 1280, height: 900 });
	if (b.problems.length === before)
		log(`hostile: ${name} shows it as text`);
}

async function visit(path) {
	await page.goto(cfg.url + path, { waitUntil: 'domcontentloaded' });
}

await finish(b, async () => {
	await visit('/');
	await byId('login-password').fill(cfg.admin_password);
	await byId('login-submit').click();
	await byId('nav-queue').waitFor();

	await visit('/queue');
	await showsAsText('queue', [t.queue_rcpt]);

	await visit('/spam');
	await showsAsText('spam', [t.spam_from]);

	await visit('/domains/example.test');
	await showsAsText('domain', [t.dmarc, t.dmarc_email, t.tlsrpt, t.tlsrpt_contact]);

	await visit('/logs');
	await byId('log-filter').fill('onerror');
	await byId('log-filter').press('Enter');
	await showsAsText('logs', [cfg.log_text]);

	await visit('/settings');
	await showsAsText('settings', [t.user_agent]);

	await visit('/accounts');
	await showsAsText('accounts', [t.display_name]);

	// The portal, as the account: its Sieve scripts and its name.
	await visit('/account');
	await byId('portal-email-input').fill(cfg.user);
	await byId('portal-password').fill(cfg.user_password);
	await byId('portal-login-submit').click();
	await byId('portal-email').waitFor();
	await showsAsText('portal', [t.sieve, t.display_name]);
	// Its "Delete NAME?" question names the script among its own words:
	// the name must be a text of its own in an element that isolates it
	// (the check above lets a block holding one text pass, and the
	// question's block holds "Delete ", the name and "?" in one text, so
	// the override turned the "?" around), and the group's accessible
	// name holds it between FSI and PDI.
	const row = page.locator('[data-testid=sieve-script]').filter({ hasText: t.sieve });
	await row.locator('[data-testid=sieve-delete]').click();
	const asked = row.locator('[role=group]');
	await asked.waitFor();
	await showsAsText('portal-confirm', [t.sieve]);
	const alone = await asked.evaluate((g, name) => {
		const walker = document.createTreeWalker(g, NodeFilter.SHOW_TEXT);
		for (let n = walker.nextNode(); n; n = walker.nextNode())
			if (n.data.includes(name))
				return n.data === name && /isolate|plaintext/.test(getComputedStyle(n.parentElement).unicodeBidi);
		return false;
	}, t.sieve);
	const spoken = await asked.getAttribute('aria-label');
	if (!alone)
		b.problems.push(`portal-confirm: the script's name is not isolated in the question: ${(await asked.innerHTML()).slice(0, 200)}`);
	else if (!spoken.includes('\u2068' + t.sieve + '\u2069'))
		b.problems.push(`portal-confirm: the question's name does not isolate the script's name: ${JSON.stringify(spoken).slice(0, 200)}`);
	else
		log('hostile: portal-confirm isolates the name');
	await row.locator('[data-testid=sieve-delete-no]').click();
});
