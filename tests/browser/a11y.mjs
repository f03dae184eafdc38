#!/usr/bin/env node
// a11y.mjs - every page of the web admin and of the account portal, used
// with the keyboard alone and with a screen reader, in headless Chromium:
// each visible form control has an accessible name (a label, aria-label
// or aria-labelledby: a placeholder is no name), each button and link has
// one, Tab from the top of the page reaches every visible enabled control
// in turn, and the control Tab focused shows it (an outline or a shadow
// under :focus-visible).
//
//   node tests/browser/a11y.mjs '{"url":..., "admin_password":..., "email":..., "password":..., "artifacts":...}'
//
// Driven by tests/proto/test_webui_errors.py. Fails (exit 1) naming each
// control that breaks a rule, on a console error, or a request to another host.
import { config, finish, log, open } from './browser.mjs';

const cfg = config(['url', 'admin_password', 'email', 'password', 'artifacts']);
const b = await open(cfg);
const { page, byId, screenshot } = b;

// In the page: the visible controls, each with a description of itself
// and its accessible name ('' when it has none).
function controls() {
	const visible = (el) => {
		const r = el.getBoundingClientRect();
		const s = getComputedStyle(el);
		return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && !el.closest('[inert],[hidden]');
	};
	const text = (el) => (el ? el.textContent.replace(/\s+/g, ' ').trim() : '');
	const nameOf = (el) => {
		if (el.getAttribute('aria-labelledby'))
			return el.getAttribute('aria-labelledby').split(/\s+/).map((id) => text(document.getElementById(id))).join(' ').trim();
		if (el.getAttribute('aria-label'))
			return el.getAttribute('aria-label').trim();
		if (/^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName)) {
			if (el.labels && el.labels.length)
				return [...el.labels].map(text).join(' ').trim();
			if (el.type === 'submit' || el.type === 'button')
				return (el.value || '').trim();
			return (el.title || '').trim();
		}
		return text(el) || (el.title || '').trim() || [...el.querySelectorAll('img[alt],svg[aria-label]')]
			.map((i) => i.getAttribute('alt') || i.getAttribute('aria-label')).join(' ').trim();
	};
	const sel = 'input:not([type=hidden]),select,textarea,button,a[href],[tabindex]:not([tabindex="-1"])';
	return [...document.querySelectorAll(sel)].filter(visible).map((el, i) => {
		el.dataset.a11y = String(i);
		const what = `${el.tagName.toLowerCase()}${el.type ? '[type=' + el.type + ']' : ''}` +
			`${el.dataset.testid ? ' ' + el.dataset.testid : ''} "${(text(el) || el.placeholder || el.name || '').slice(0, 40)}"`;
		return { i: String(i), what, name: nameOf(el), disabled: el.disabled === true };
	});
}

// The focused element's index (data-a11y) and whether it shows its focus.
function focused() {
	const el = document.activeElement;
	if (!el || el === document.body)
		return null;
	const s = getComputedStyle(el);
	const shown = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || (s.boxShadow && s.boxShadow !== 'none');
	return { i: el.dataset.a11y || '', shown, what: el.outerHTML.slice(0, 80) };
}

// The indexes (data-a11y) of those no longer in the page: a late answer
// re-rendered them, so the Tab walk saw new elements in their place.
function replaced(ids) {
	return ids.filter((i) => !document.querySelector(`[data-a11y="${i}"]`));
}

// Checks one page; a walk during which a control the walk missed was
// replaced (the page's data arrived under it) is done again, at most
// twice, so a slow machine cannot fail it, while a control Tab never
// reaches on a page that stays put still fails.
async function checkPage(name, problems) {
	for (let attempt = 1; ; attempt++) {
		const found = [];
		const missed = await walkPage(name, found);
		const gone = missed.length ? await page.evaluate(replaced, missed) : [];
		if (gone.length && attempt < 3) {
			log(`a11y: ${name}: ${gone.length} control(s) re-rendered during the walk; walking again`);
			continue;
		}
		problems.push(...found);
		return;
	}
}

// One walk: pushes what breaks a rule onto problems, returns the indexes
// of the enabled controls Tab never reached.
async function walkPage(name, problems) {
	await page.waitForFunction(() => !document.querySelector('[aria-busy=true]'), null, { timeout: 10000 }).catch(() => {});
	await page.evaluate(() => document.querySelectorAll('[data-a11y]').forEach((el) => delete el.dataset.a11y));
	const list = await page.evaluate(controls);
	for (const c of list)
		if (!c.name)
			problems.push(`${name}: ${c.what} has no accessible name`);
	// Tab from the top: past the page's end the focus leaves the page
	// (none), the next Tab starts at its top; then the controls in turn
	// until it leaves again.
	const reached = new Set();
	let rounds = 0;
	for (let n = 0; n < 2 * list.length + 40 && rounds < 2; n++) {
		await page.keyboard.press('Tab');
		const f = await page.evaluate(focused);
		if (!f) {
			rounds++;
			continue;
		}
		if (rounds === 0)
			continue;
		reached.add(f.i);
		if (!f.shown)
			problems.push(`${name}: ${f.what} shows no focus`);
	}
	const missed = [];
	for (const c of list)
		if (!c.disabled && !reached.has(c.i)) {
			problems.push(`${name}: Tab never reaches ${c.what}`);
			missed.push(c.i);
		}
	log(`a11y: ${name}: ${list.length} controls checked`);
	return missed;
}

await finish(b, async () => {
	const problems = [];
	await page.goto(cfg.url + '/', { waitUntil: 'domcontentloaded' });
	await byId('login-password').waitFor();
	await checkPage('admin sign-in', problems);
	await byId('login-password').fill(cfg.admin_password);
	await byId('login-submit').click();
	await byId('logout').waitFor();
	const navs = await page.locator('[data-testid^=nav-]').evaluateAll((els) => els.map((e) => e.dataset.testid));
	for (const id of navs) {
		await byId(id).click();
		await checkPage(id.slice(4), problems);
	}
	// An account's panel: its forms.
	await byId('nav-accounts').click();
	const row = page.locator(`[data-testid=account-row][data-email="${cfg.email}"]`);
	await row.locator('[data-testid=account-edit]').click();
	await byId('reset-password').waitFor();
	await checkPage('account panel', problems);

	await page.goto(cfg.url + '/account', { waitUntil: 'domcontentloaded' });
	await byId('portal-login').waitFor();
	await checkPage('portal sign-in', problems);
	await byId('portal-email-input').fill(cfg.email);
	await byId('portal-password').fill(cfg.password);
	await byId('portal-login-submit').click();
	await byId('portal-logout').waitFor();
	await checkPage('portal', problems);
	if (problems.length) {
		await screenshot('a11y');
		throw new Error(problems.join('\n'));
	}
});
