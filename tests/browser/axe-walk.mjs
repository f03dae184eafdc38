#!/usr/bin/env node
// axe-walk.mjs - axe-core (axe.mjs) on every page and state of the web UI,
// in headless Chromium: the first-run wizard's steps from the setup code
// (each with a refusal shown under its field), the admin's pages, an
// account's panel, a question asked in place, the sign-in dialog over a
// page, Settings' two-factor enrolment with its QR code, the admin's
// sign-in with a wrong password, the not-found page, the error page when
// the server cannot be reached; then the account portal: its sign-in
// (with an error), its page, its two-factor enrolment and recovery codes,
// its error page.
// The wizard is also used with the keyboard alone: Tab from the step's
// heading reaches its field, Enter in a field submits the step, and a
// refusal moves the focus to the field it names.
//
//   node tests/browser/axe-walk.mjs '{"url":..., "code":..., "domain":..., "admin_password":...,
//       "email":..., "password":..., "artifacts":...}'
//
// Driven by tests/proto/test_webui_errors.py on a fresh server. Prints
// `browser: axe: NAME: critical=N serious=N moderate=N minor=N` per state
// and fails (exit 1) on a serious or critical violation, naming the rule
// and the elements, on a keyboard step that does not do as said, on a
// console error, or a request to another host.
import { ask } from './ask.mjs';
import { audit, blocking } from './axe.mjs';
import { config, endSession, finish, log, open } from './browser.mjs';

const cfg = config(['url', 'code', 'domain', 'admin_password', 'email', 'password', 'artifacts']);
const b = await open(cfg);
const { page, problems, byId, screenshot } = b;
const IMPACTS = ['critical', 'serious', 'moderate', 'minor'];

// axe on the page as it is, once nothing is marked busy; the counts are
// logged, the serious and critical violations are problems.
async function check(name) {
	await page.waitForFunction(() => !document.querySelector('[aria-busy=true]'), null, { timeout: 10000 }).catch(() => {});
	const found = await audit(page);
	const count = Object.fromEntries(IMPACTS.map((i) => [i, 0]));
	for (const v of found) {
		count[v.impact] += v.nodes.length;
		if (blocking(v.impact))
			problems.push(`${name}: ${v.impact} ${v.id} (${v.scheme}): ${v.help}\n    ${v.nodes.join('\n    ')}`);
		else
			log(`axe: ${name}: ${v.impact} ${v.id} (${v.scheme}): ${v.nodes.length}`);
	}
	log(`axe: ${name}: ${IMPACTS.map((i) => `${i}=${count[i]}`).join(' ')}`);
	if (found.some((v) => blocking(v.impact)))
		await screenshot(`axe-${name.replace(/\W+/g, '-')}`);
}

// The data-testid of the focused element ('' for none, or an element
// without one: the step's heading is 'h2').
const focusedId = () => page.evaluate(() => {
	const el = document.activeElement;
	return !el || el === document.body ? '' : el.dataset.testid || el.tagName.toLowerCase();
});

// Keyboard: Tab from the focused step heading must land on `testid`.
// Each keyboard rule broken is a problem and the walk goes on (the field
// focused by hand), so that one run counts what axe finds everywhere.
async function tabTo(testid, step) {
	for (let n = 0; n < 12; n++) {
		await page.keyboard.press('Tab');
		if ((await focusedId()) === testid)
			return;
	}
	problems.push(`wizard ${step}: Tab from the heading never reaches ${testid}`);
	await byId(testid).focus();
}

// A refusal shown under its field takes the focus there (the field the
// user must fix), tied to it by aria-describedby.
async function focusOnError(testid, step) {
	const el = byId(testid);
	// The refusal, under a field or over the form.
	await page.locator('form [aria-invalid=true], form [role=alert]').first().waitFor();
	if ((await el.getAttribute('aria-invalid')) !== 'true') {
		problems.push(`wizard ${step}: the refusal is not under ${testid}: ${await page.locator('form [role=alert]').allTextContents()}`);
		return;
	}
	const f = await focusedId();
	const said = await el.evaluate((e) => (e.getAttribute('aria-describedby') || '').split(/\s+/)
		.map((id) => document.getElementById(id)).filter(Boolean).map((d) => d.textContent).join(' ').trim());
	if (f !== testid)
		problems.push(`wizard ${step}: the refusal under ${testid} left the focus on ${f || 'the page'}`);
	else if (!said)
		problems.push(`wizard ${step}: ${testid} in error describes no error (aria-describedby)`);
	else
		log(`axe: wizard ${step}: the focus moved to ${testid}, which says "${said}"`);
}

// A step's refusal under `field`: the focus there, axe on the step as it
// shows it; then the good value typed over it and Enter.
async function refusedThenFixed(step, field, title, good) {
	await focusOnError(field, step);
	await check(`wizard ${title}, refused`);
	await byId(field).fill(good);
	await page.keyboard.press('Enter');
}

async function wizardStep(name) {
	await byId(`wizard-step-${name}`).waitFor();
	// The heading takes the focus on a new step (wizard.jsx).
	await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'wizard-title');
}

async function wizard() {
	await page.goto(cfg.url + '/', { waitUntil: 'domcontentloaded' });
	await wizardStep('code');
	await check('wizard setup code');
	// Keyboard only: Tab to the field, type, Enter.
	await tabTo('setup-code', 'code');
	await page.keyboard.type('AAAA-BBBB-CCCC');
	// Sent with the button: the refusal takes the focus to the field.
	await byId('wizard-next').focus();
	await page.keyboard.press('Enter');
	await focusOnError('setup-code', 'code');
	await check('wizard setup code, refused');
	await byId('setup-code').fill('');
	await byId('setup-code').focus();
	await page.keyboard.type(cfg.code);
	await page.keyboard.press('Enter');

	await wizardStep('admin');
	await check('wizard admin password');
	await tabTo('admin-password', 'admin');
	await page.keyboard.type(cfg.admin_password);
	await page.keyboard.press('Tab');
	await page.keyboard.type(cfg.admin_password + 'x');
	// Enter in the first field: the second one differs, and takes the focus.
	await byId('admin-password').focus();
	await page.keyboard.press('Enter');
	await focusOnError('admin-password2', 'admin');
	await byId('admin-password-meter').waitFor();
	await check('wizard admin password, passwords differ');
	await byId('admin-password2').fill(cfg.admin_password);
	await page.keyboard.press('Enter');

	await wizardStep('hostname');
	await byId('acme-tick').check();
	await byId('acme-email').waitFor();
	await check('wizard host name');
	await byId('acme-tick').uncheck();
	await byId('hostname').focus();
	await page.keyboard.press('Enter');

	await wizardStep('domain');
	await check('wizard domain');
	await tabTo('domain', 'domain');
	await page.keyboard.type('not a domain');
	await page.keyboard.press('Enter');
	await refusedThenFixed('domain', 'domain', 'domain', cfg.domain);

	await wizardStep('account');
	await check('wizard first account');
	// A refusal of the address, sent from the password field with Enter.
	await tabTo('account-email', 'account');
	await page.keyboard.type('someone@elsewhere.test');
	await byId('account-password').fill(cfg.password);
	// The admin exists now: the step asks for its password again.
	await byId('account-current').fill(cfg.admin_password);
	await byId('account-password').focus();
	await page.keyboard.press('Enter');
	await refusedThenFixed('account', 'account-email', 'first account', cfg.email);

	await wizardStep('relay');
	await check('wizard relay');
	await byId('relay-host').focus();
	await page.keyboard.press('Enter');

	await wizardStep('dns');
	await byId('dns-check').and(page.locator(':not([disabled])')).waitFor();
	await check('wizard DNS records');
	await byId('wizard-step-dns').getByTestId('wizard-next').click();
	await byId('logout').waitFor();
}


async function admin() {
	const navs = await page.locator('[data-testid^=nav-]').evaluateAll((els) => els.map((e) => e.dataset.testid));
	for (const id of navs) {
		await byId(id).click();
		await page.locator('main h1').first().waitFor();
		// The log's lines arrive with no busy mark before them.
		if (id === 'nav-logs')
			await byId('log-lines').waitFor();
		await check(`admin ${id.slice(4)}`);
	}
	await byId('nav-domains').click();
	await page.locator('[data-testid=domain-row] a').first().click();
	await page.locator('.crumbs').waitFor();
	await check('admin domain detail');

	await byId('nav-accounts').click();
	const row = page.locator(`[data-testid=account-row][data-email="${cfg.email}"]`);
	await row.locator('[data-testid=account-edit]').click();
	await byId('reset-password').waitFor();
	await check('admin account panel');
	await row.locator('[data-testid=account-delete]').click();
	await byId('account-delete-password').waitFor();
	await check('admin account delete question');
	await page.keyboard.press('Escape');

	// The sign-in dialog over a page whose session ended.
	await byId('nav-settings').click();
	await byId('totp-start').waitFor();
	await endSession(page, cfg.url);
	await byId('totp-start').click();
	await byId('relogin').waitFor();
	await check('admin sign-in dialog');
	await byId('relogin-password').fill('not the password');
	await byId('relogin-submit').click();
	await byId('relogin').getByTestId('error').waitFor();
	await check('admin sign-in dialog, refused');
	await byId('relogin-password').fill(cfg.admin_password);
	await byId('relogin-submit').click();
	await byId('totp-qr').waitFor();
	await check('admin two-factor enrolment');
	await byId('totp-code').fill('000000');
	await byId('totp-password').fill('not the password');
	await byId('totp-confirm').click();
	await byId('totp-card').getByRole('alert').or(page.locator('[data-testid=totp-card] [aria-invalid=true]')).first().waitFor();
	await check('admin two-factor enrolment, refused');

	await page.goto(cfg.url + '/no-such-page', { waitUntil: 'domcontentloaded' });
	await page.getByRole('heading', { name: 'Not found' }).waitFor();
	await check('admin not found');

	await byId('logout').click();
	await byId('login-password').waitFor();
	await check('admin sign-in');
	await byId('login-password').fill('not the password');
	await byId('login-submit').click();
	await byId('error').waitFor();
	await check('admin sign-in, refused');

	// The server cannot be reached: the app's error page.
	await page.route('**/api/v1/setup', (route) => route.abort('connectionrefused'));
	await page.goto(cfg.url + '/', { waitUntil: 'domcontentloaded' });
	await page.getByRole('button', { name: 'Try again' }).waitFor();
	await check('admin error page');
	await page.unroute('**/api/v1/setup');
}

// An async result is read out: `region` (a role=status element) is in
// the page before the action, empty, and the action's words land in that
// very element (a status region inserted with its text is often not said).
async function saidInRegion(name, region, act, words) {
	if ((await region.count()) !== 1) {
		problems.push(`${name}: no status region in the page before the action (found ${await region.count()})`);
		return;
	}
	await region.evaluate((e) => { e.dataset.before = 'yes'; });
	await act();
	const before = page.locator('[data-before=yes]');
	await page.waitForFunction((w) => {
		const e = document.querySelector('[data-before=yes]');
		return !e || e.textContent.includes(w);
	}, words);
	if (!(await before.count()))
		problems.push(`${name}: the status region there before the action was replaced`);
	else
		log(`axe: ${name}: "${(await before.textContent()).trim()}" said in the status region`);
	await before.evaluate((e) => { delete e.dataset.before; }).catch(() => {});
}

async function portal() {
	await page.goto(cfg.url + '/account', { waitUntil: 'domcontentloaded' });
	await byId('portal-login').waitFor();
	await check('portal sign-in');
	await byId('portal-email-input').fill(cfg.email);
	await byId('portal-password').fill('not the password');
	await byId('portal-login-submit').click();
	await byId('error').waitFor();
	await check('portal sign-in, refused');
	await byId('portal-password').fill(cfg.password);
	await byId('portal-login-submit').click();
	await byId('portal-logout').waitFor();
	await check('portal');
	await saidInRegion('portal profile', byId('portal-profile').locator('[role=status]'), async () => {
		await byId('portal-display-name').fill('Me Example');
		await byId('portal-profile-save').click();
	}, 'saved');
	await byId('totp-start').click();
	await byId('totp-qr').waitFor();
	await check('portal two-factor enrolment');
	const copy = page.getByRole('button', { name: /^Copy the key/ });
	await saidInRegion('portal copy the key', copy.locator('xpath=following-sibling::*[@role="status"]'),
		() => copy.click(), 'Copied');
	// Confirmed with a code the caller computes (`NEED_CODE SECRET`):
	// the recovery codes, shown once.
	await byId('totp-code').fill(await ask(`NEED_CODE ${(await byId('totp-secret').textContent()).trim()}`));
	await byId('totp-password').fill(cfg.password);
	await byId('totp-confirm').click();
	await byId('totp-recovery').waitFor();
	await check('portal two-factor recovery codes');

	await page.route('**/api/v1/me', (route) => route.abort('connectionrefused'));
	await page.goto(cfg.url + '/account', { waitUntil: 'domcontentloaded' });
	await byId('portal-retry').waitFor();
	await check('portal error page');
	await page.unroute('**/api/v1/me');
}

await finish(b, async () => {
	await wizard();
	await admin();
	await portal();
	if (problems.length)
		await screenshot('axe');
});
