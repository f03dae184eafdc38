#!/usr/bin/env node
// queue.mjs - the web admin's Queue page with an entry a restore held, in
// headless Chromium (playwright-core, Debian's chromium): the row says
// "held" (with what Retry now and Delete do) instead of a date, and Retry
// now releases it: the badge goes and the next attempt is a date. A
// second entry with MT-PRIORITY 3 brings a Priority column ("+3", "0");
// once the Python side deletes it, a refresh shows no such column.
//
//   node tests/browser/queue.mjs '{"url":..., "admin_password":..., "rcpt":..., "artifacts":...}'
//
// Driven by tests/proto/test_webui_queue.py: "CHECK <what>" on stdout is
// answered "OK" on stdin once the REST API agrees. Fails (exit 1) on a
// step that does not show what it should, a console error, or a request
// to another host.
import { check } from './ask.mjs';
import { config, finish, log, open } from './browser.mjs';
import { overflow } from './layout.mjs';

const cfg = config(['url', 'admin_password', 'rcpt', 'prio_rcpt', 'artifacts']);
const b = await open(cfg);
const { page, byId, screenshot } = b;

await finish(b, async () => {
	await page.goto(cfg.url + '/', { waitUntil: 'domcontentloaded' });
	await byId('login-password').fill(cfg.admin_password);
	await byId('login-submit').click();
	await byId('nav-queue').click();
	const row = page.locator('[data-testid=queue-row]', { hasText: cfg.rcpt });
	await row.waitFor();
	const held = row.getByTestId('queue-held');
	await held.waitFor();
	const shown = await held.evaluate((el) => ({ text: el.textContent, title: el.title, cell: el.closest('td').textContent }));
	if (shown.text !== 'held' || !/Retry now/.test(shown.title) || !/Delete/.test(shown.title) || shown.cell !== 'held')
		throw new Error(`the held entry shows ${JSON.stringify(shown)}`);
	if ((await row.innerText()).includes('Invalid Date'))
		throw new Error(`the held row says Invalid Date: ${await row.innerText()}`);
	// A phone's width: the row and its badge fit.
	await page.setViewportSize({ width: 360, height: 800 });
	const over = await overflow(page);
	await screenshot('queue-held-360');
	if (over)
		throw new Error(`the queue page at 360 px overflows: ${over}`);
	await page.setViewportSize({ width: 1280, height: 900 });
	await screenshot('queue-held');
	log('queue: the restored entry shows held');

	// The Priority column, there while an entry has one.
	const prio = page.locator('[data-testid=queue-row]', { hasText: cfg.prio_rcpt });
	const prioText = async (r) => (await r.getByTestId('queue-priority').textContent()).trim();
	if (await page.getByTestId('queue-priority-head').count() !== 1 || await prioText(prio) !== '+3' || await prioText(row) !== '0')
		throw new Error(`the priority column shows ${await prio.innerText()} / ${await row.innerText()}`);
	log('queue: the priority column');
	await check('priority-dropped');
	await byId('queue-refresh').click();
	await prio.waitFor({ state: 'detached' });
	if (await page.getByTestId('queue-priority-head').count() || await page.getByTestId('queue-priority').count())
		throw new Error(`a priority column with every entry at 0: ${await row.innerText()}`);
	log('queue: no priority column when all are 0');

	// Retry now releases it: a date instead of the badge.
	await Promise.all([
		page.waitForResponse((r) => r.request().method() === 'POST' && /\/api\/v1\/queue\/[^/]+\/retry$/.test(r.url()) && r.status() === 204),
		row.getByText('Retry now').click(),
	]);
	await held.waitFor({ state: 'detached' });
	const next = (await row.locator('td').nth(5).textContent()).trim();
	if (!next || next === 'held' || next.includes('Invalid'))
		throw new Error(`after Retry now the next attempt shows ${JSON.stringify(next)}`);
	await check('released');
	log('queue: Retry now released it');
});
