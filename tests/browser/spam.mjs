#!/usr/bin/env node
// spam.mjs - the web admin's Spam page in headless Chromium (playwright-core,
// Debian's chromium): thresholds changed and saved, an entry added to and
// removed from the global allow list and from one account's block list,
// the recent decisions listed with their rules, and the "Spam" button's
// training request.
//
//   node tests/browser/spam.mjs '{"url":..., "admin_password":..., "rcpt":..., "mail_from":..., ...}'
//
// Driven by tests/proto/test_webui_spam.py over stdin/stdout: after each
// change this script prints "CHECK <what>" and waits for "OK" while Python
// reads the setting back through the API (so a save that the server did
// not keep fails here); "TRAINED <seq>" names the decision the button
// trained. Fails (exit 1) on a step that does not show what it should, a
// console error, or a request to another host.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const cfg = JSON.parse(process.argv[2] || '{}');
for (const k of ['url', 'admin_password', 'rcpt', 'mail_from', 'allow_entry', 'block_entry', 'artifacts'])
	if (!cfg[k])
		throw new Error(`missing config ${k}`);
mkdirSync(cfg.artifacts, { recursive: true });

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function check(what) {
	process.stdout.write(`CHECK ${what}\n`);
	const r = await lines.next();
	const answer = r.done ? '(no answer)' : r.value.trim();
	if (answer !== 'OK')
		throw new Error(`${what}: ${answer}`);
}
const log = (msg) => process.stdout.write(`browser: ${msg}\n`);

const problems = [];
let shot = 0;
const browser = await chromium.launch({
	executablePath: cfg.chromium || '/usr/bin/chromium',
	headless: true,
	args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
	timeout: 30000,
});
const origin = new URL(cfg.url).origin;
const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
context.setDefaultTimeout(15000);
await context.route('**/*', (route) => {
	const u = route.request().url();
	if (u.startsWith(origin + '/') || u === origin) {
		route.continue();
	} else {
		problems.push(`request to another origin: ${u}`);
		route.abort();
	}
});
const page = await context.newPage();
page.on('console', (m) => {
	if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
		problems.push(`console error: ${m.text()}`);
});
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
const byId = (id) => page.getByTestId(id);
async function screenshot(name) {
	const file = join(cfg.artifacts, `${String(++shot).padStart(2, '0')}-${name}.png`);
	await page.screenshot({ path: file, fullPage: true });
}
const lineList = (text) => text.split('\n').map((x) => x.trim()).filter(Boolean);

// Saves the filter form and waits for its notice.
async function saveForm() {
	await byId('spam-save').click();
	await byId('spam-form').getByText('Saved. Applies to the next message.').waitFor();
}

try {
	await page.goto(cfg.url + '/', { waitUntil: 'domcontentloaded' });
	await byId('login').waitFor();
	await byId('login-password').fill(cfg.admin_password);
	await byId('login-submit').click();
	await byId('nav-spam').click();
	await byId('spam-classifier').getByText('The global model learned').waitFor();
	await screenshot('spam-page');

	// Thresholds.
	await byId('spam-junk').fill('6.5');
	await byId('spam-reject').fill('12');
	await byId('spam-discard').fill('40');
	await saveForm();
	await check('thresholds 6.5 12 40');
	// A reload shows what the server kept, not what the form still holds.
	await page.reload({ waitUntil: 'networkidle' });
	await byId('spam-junk').waitFor();
	for (const [id, want] of [['spam-junk', '6.5'], ['spam-reject', '12'], ['spam-discard', '40']]) {
		const got = await byId(id).inputValue();
		if (got !== want)
			throw new Error(`${id} shows ${got} after a reload, not ${want}`);
	}
	log('spam: thresholds saved and shown after a reload');

	// The global allow list: an entry added, then removed.
	const allow = byId('spam-allow');
	const before = await allow.inputValue();
	await allow.fill([...lineList(before), cfg.allow_entry].join('\n'));
	await saveForm();
	await check(`allow has ${cfg.allow_entry}`);
	await page.reload({ waitUntil: 'networkidle' });
	const saved = lineList(await byId('spam-allow').inputValue());
	if (!saved.includes(cfg.allow_entry))
		throw new Error(`the allow list shows ${saved.join(' ')} after a reload`);
	await byId('spam-allow').fill(saved.filter((x) => x !== cfg.allow_entry).join('\n'));
	await saveForm();
	await check(`allow lacks ${cfg.allow_entry}`);
	log('spam: allow list entry added and removed');

	// One account's block list: an entry added, then removed.
	await byId('spam-scope-name').fill(cfg.rcpt);
	await byId('spam-scope-load').click();
	await byId('spam-scope-block').waitFor();
	await byId('spam-scope-block').fill(cfg.block_entry);
	await byId('spam-scope-save').click();
	await byId('spam-scope').getByText(`Saved for ${cfg.rcpt}.`).waitFor();
	await check(`block of ${cfg.rcpt} has ${cfg.block_entry}`);
	await screenshot('spam-scope-list');
	await byId('spam-scope-block').fill('');
	await byId('spam-scope-save').click();
	await byId('spam-scope').getByText(`Saved for ${cfg.rcpt}.`).waitFor();
	await check(`block of ${cfg.rcpt} empty`);
	log('spam: account block list entry added and removed');

	// Recent decisions: the message Python sent, with its rules.
	const row = byId('spam-decision').filter({ hasText: cfg.mail_from }).first();
	await row.waitFor();
	const text = await row.innerText();
	if (!text.includes(cfg.rcpt) || !/[A-Z_]+=-?\d+\.\d\d/.test(text))
		throw new Error(`the decision row lacks the recipient or the rules: ${text}`);
	log('spam: recent decision shown with its rules');

	// "Spam": a POST to /spam/recent/{seq}/train with {"spam":true}.
	const [req] = await Promise.all([
		page.waitForRequest((r) => r.method() === 'POST' && /\/api\/v1\/spam\/recent\/\d+\/train$/.test(r.url())),
		row.getByTestId('spam-train-spam').click(),
	]);
	const body = JSON.parse(req.postData() || '{}');
	if (body.spam !== true)
		throw new Error(`the Spam button posted ${req.postData()}`);
	await row.getByTestId('spam-trained').getByText('learned as spam').waitFor();
	await screenshot('spam-trained');
	const seq = req.url().match(/recent\/(\d+)\/train$/)[1];
	await check(`trained ${seq}`);
	log('spam: the Spam button posted and the message was learned');
} catch (e) {
	problems.push(e.stack || String(e));
	try {
		await screenshot('failure');
	} catch (e2) {
		/* the page is gone */
	}
}
await browser.close();
if (problems.length) {
	process.stdout.write(`FAILED\n${problems.join('\n')}\n`);
	process.exit(1);
}
process.stdout.write('DONE\n');
process.exit(0);
