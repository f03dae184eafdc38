#!/usr/bin/env node
// sessions.mjs - "Where you are signed in" in headless Chromium
// (playwright-core, Debian's chromium): the account, signed in elsewhere
// three times by the Python side (PhoneAgent, TabletAgent, WatchAgent),
// sees its four portal sessions with this one marked, signs the phone out
// (a wrong password first: refused, nothing ended), then every other one;
// the admin, signed in elsewhere twice, does the same on Settings. At a
// phone's width the long user agents stay inside the card.
//
//   node tests/browser/sessions.mjs '{"url":..., "email":..., "password":..., "admin_password":..., "artifacts":...}'
//
// Driven by tests/proto/test_webui_sessions.py: "CHECK <what>" has it read
// the other clients' sessions back through the API (ask.mjs). Fails
// (exit 1) on a step that does not show what it should, a console error,
// or a request to another host.
import { check } from './ask.mjs';
import { config, finish, open } from './browser.mjs';
import { overflow } from './layout.mjs';

const cfg = config(['url', 'email', 'password', 'admin_password', 'artifacts']);
const b = await open(cfg);
const { page, byId, screenshot } = b;

async function rows(want) {
	const all = byId('sessions').locator('tbody tr');
	await page.waitForFunction(([n]) => document.querySelectorAll('[data-testid="sessions"] tbody tr').length === n, [want]);
	if ((await byId('session-current').count()) !== 1)
		throw new Error('this session is not marked');
	return all;
}

// Ends the row whose user agent starts with agent, with password.
async function endRow(agent, password) {
	const row = byId('session-row').filter({ hasText: agent });
	await row.getByTestId('session-end').click();
	await row.getByTestId('session-end-password').fill(password);
	await row.getByTestId('session-end-yes').click();
}

async function endOthers(password) {
	await byId('sessions-end-others').click();
	await byId('sessions-end-others-password').fill(password);
	await byId('sessions-end-others-yes').click();
}

await finish(b, async () => {
	// The account's portal.
	await page.goto(cfg.url + '/account');
	await byId('portal-login').waitFor();
	await byId('portal-email-input').fill(cfg.email);
	await byId('portal-password').fill(cfg.password);
	await byId('portal-login-submit').click();
	await byId('sessions').waitFor();
	await rows(4);
	for (const agent of ['PhoneAgent/1', 'TabletAgent/1', 'WatchAgent/1'])
		await byId('session-row').filter({ hasText: agent }).waitFor();
	const ua = await page.evaluate(() => navigator.userAgent);
	await byId('session-current').filter({ hasText: ua.slice(0, 40) }).waitFor();
	await byId('session-current').getByText('This session').waitFor();
	await screenshot('portal-sessions');

	await endRow('PhoneAgent/1', 'not the password');
	await byId('sessions').getByText('the password is wrong').waitFor();
	await rows(4);
	await endRow('PhoneAgent/1', cfg.password);
	await rows(3);
	if (await byId('session-row').filter({ hasText: 'PhoneAgent/1' }).count())
		throw new Error('the phone is still listed');
	await check('phone-ended');

	await page.setViewportSize({ width: 390, height: 900 });
	const over = await overflow(page);
	if (over)
		throw new Error(`at 390 px: ${over}`);
	await screenshot('portal-sessions-narrow');
	await page.setViewportSize({ width: 1280, height: 900 });

	await endOthers(cfg.password);
	await rows(1);
	if (await byId('sessions-end-others').count())
		throw new Error('"Sign out everywhere else" offered with no other session');
	await check('portal-others-ended');
	await screenshot('portal-sessions-alone');

	// The admin's own, on Settings.
	await page.goto(cfg.url + '/');
	await byId('login').waitFor();
	await byId('login-password').fill(cfg.admin_password);
	await byId('login-submit').click();
	await byId('nav-settings').click();
	await byId('sessions').waitFor();
	await rows(3);
	await byId('session-row').filter({ hasText: 'AdminScript/1' }).waitFor();
	await screenshot('admin-sessions');
	await endOthers(cfg.admin_password);
	await rows(1);
	await check('admin-others-ended');
});
