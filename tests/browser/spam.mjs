#!/usr/bin/env node
// spam.mjs - the web admin's Spam page in headless Chromium (playwright-core,
// Debian's chromium): thresholds changed and saved, an entry added to and
// removed from the global allow list and from one account's block list,
// the phishing URL list loaded from a file and given a feed URL, the
// malware attachment list loaded from a file, the
// recent decisions listed with their rules, and the "Spam" button's
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
import { check } from './ask.mjs';
import { config, endSession, finish, log, open } from './browser.mjs';
import { request } from 'playwright-core';

const cfg = config(['url', 'admin_password', 'rcpt', 'mail_from', 'allow_entry', 'block_entry', 'phish_url', 'artifacts']);
const b = await open(cfg);
const { page, byId, screenshot } = b;
const lineList = (text) => text.split('\n').map((x) => x.trim()).filter(Boolean);

// Clicks a save button and waits for the server's answer to its PUT, then
// for the notice: a notice alone can be the last save's.
async function putBy(button, path) {
	await Promise.all([
		page.waitForResponse((r) => r.request().method() === 'PUT' && path.test(r.url())),
		button.click(),
	]);
}

// Waits for a save's PUT (answered 200, or any answer with ok false) and
// the page's reload of the settings after it (GET /spam): nothing of the
// page is in flight when a step then ends the session or signs in from
// another tab (a reload cut short that way asks to sign in again).
const savedAndReloaded = (ok = true) => Promise.all([
	page.waitForResponse((r) => r.request().method() === 'PUT' && /\/api\/v1\/spam$/.test(r.url()) && (!ok || r.status() === 200)),
	page.waitForResponse((r) => r.request().method() === 'GET' && /\/api\/v1\/spam$/.test(r.url())),
]);

// Saves the filter form and waits for its notice.
async function saveForm() {
	await putBy(byId('spam-save'), /\/api\/v1\/spam$/);
	await byId('spam-form').getByText('Saved. Applies to the next message.').waitFor();
}

await finish(b, async () => {
	await page.goto(cfg.url + '/', { waitUntil: 'domcontentloaded' });
	await byId('login').waitFor();
	await byId('login-password').fill(cfg.admin_password);
	await byId('login-submit').click();
	await byId('nav-spam').click();
	await byId('spam-classifier').getByText('The global model learned').waitFor();
	await byId('spam-grams').getByText('The byte-gram regression keeps').waitFor();
	await screenshot('spam-page');

	// Thresholds.
	await byId('spam-junk').fill('6.5');
	await byId('spam-reject').fill('12');
	await byId('spam-discard').fill('40');
	await byId('spam-hashbl').fill(cfg.hashbl);
	await saveForm();
	await check('thresholds 6.5 12 40');
	await check('hash lists saved');
	// A reload shows what the server kept, not what the form still holds.
	await page.reload({ waitUntil: 'networkidle' });
	await byId('spam-junk').waitFor();
	for (const [id, want] of [['spam-junk', '6.5'], ['spam-reject', '12'], ['spam-discard', '40'],
		['spam-hashbl', cfg.hashbl]]) {
		const got = await byId(id).inputValue();
		if (got !== want)
			throw new Error(`${id} shows ${got} after a reload, not ${want}`);
	}
	log('spam: thresholds saved and shown after a reload');

	// A keyboard user saves with the button itself: the focus stays on it
	// (disabled while the save runs, it lost the focus to the page's body).
	await byId('spam-save').focus();
	await Promise.all([
		page.waitForResponse((r) => r.request().method() === 'PUT' && /\/api\/v1\/spam$/.test(r.url()) && r.status() === 200),
		page.keyboard.press('Enter'),
	]);
	await page.waitForFunction(() => !document.querySelector('[data-testid=spam-save]').disabled);
	const kept = await page.evaluate(() => document.activeElement && (document.activeElement.dataset.testid || document.activeElement.tagName));
	if (kept !== 'spam-save')
		throw new Error(`after a save from the keyboard the focus is on ${kept}, not the Save button`);
	log('spam: the focus stays on Save across a save');

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
	await putBy(byId('spam-scope-save'), /\/api\/v1\/spam\/lists\//);
	await byId('spam-scope').getByText(`Saved for ${cfg.rcpt}.`).waitFor();
	await check(`block of ${cfg.rcpt} has ${cfg.block_entry}`);
	await screenshot('spam-scope-list');
	await byId('spam-scope-block').fill('');
	await putBy(byId('spam-scope-save'), /\/api\/v1\/spam\/lists\//);
	await byId('spam-scope').getByText(`Saved for ${cfg.rcpt}.`).waitFor();
	await check(`block of ${cfg.rcpt} empty`);
	log('spam: account block list entry added and removed');

	// The phishing list: a feed file loaded, then a feed URL saved.
	await byId('spam-phish-status').getByText('No list is loaded.').waitFor();
	await byId('spam-phish-file').setInputFiles({
		name: 'feed.txt', mimeType: 'text/plain',
		buffer: Buffer.from('https://evil.example/login/\nhttps://phish.test/\nnot-a-url\n'),
	});
	await putBy(byId('spam-phish-upload'), /\/api\/v1\/spam\/phish\?/);
	await byId('spam-phish').getByText('Loaded 2 URLs (1 lines without one).').waitFor();
	await check('phish list 2 from upload feed.txt');
	await page.reload({ waitUntil: 'networkidle' });
	await byId('spam-phish-status').getByText('2 URLs from upload feed.txt', { exact: false }).waitFor();
	await byId('spam-phish-url').fill(cfg.phish_url);
	await putBy(byId('spam-phish-url-save'), /\/api\/v1\/spam$/);
	await byId('spam-phish').getByText('Saved. The server downloads the feed', { exact: false }).waitFor();
	await check('phish url saved');
	await screenshot('spam-phish');
	log('spam: phishing list loaded from a file and its feed URL saved');

	// The malware attachment list: a file of digests loaded.
	await byId('spam-hashes-status').getByText('No list is loaded.').waitFor();
	await byId('spam-hashes-file').setInputFiles({
		name: 'full_sha256.txt', mimeType: 'text/plain',
		buffer: Buffer.from('# MalwareBazaar\n' + 'ab'.repeat(32) + '\n' + 'CD'.repeat(32) + '\nno digest\n'),
	});
	await putBy(byId('spam-hashes-upload'), /\/api\/v1\/spam\/hashes\?/);
	await byId('spam-hashes').getByText('Loaded 2 file digests (1 lines without one).').waitFor();
	await check('hashes list 2 from upload full_sha256.txt');
	log('spam: malware attachment list loaded from a file');

	// Recent decisions: the message Python sent, with its rules.
	const row = byId('spam-decision').filter({ hasText: cfg.mail_from }).first();
	await row.waitFor();
	const text = await row.innerText();
	if (!text.includes(cfg.rcpt) || !/[A-Z_]+=-?\d+\.\d\d/.test(text))
		throw new Error(`the decision row lacks the recipient or the rules: ${text}`);
	log('spam: recent decision shown with its rules');

	// Each button names its message for a screen reader: the accessible
	// names (Chromium's accessibility tree, as getByRole reads it) say
	// whose message, not "Spam" / "Not spam" on every row alike.
	for (const [id, word] of [['spam-train-spam', 'Spam'], ['spam-train-ham', 'Not spam']]) {
		const name = `${word}: the message from ${cfg.mail_from} to ${cfg.rcpt}`;
		const byName = row.getByRole('button', { name: new RegExp('^' + name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) });
		if ((await byName.count()) !== 1 || (await byName.getAttribute('data-testid')) !== id)
			throw new Error(`no ${id} button named "${name}…"`);
	}
	log('spam: the Spam and Not spam buttons name their message');

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

	// The server's certificate expired a day and a half ago: the Settings
	// page says so, in red, not "(-2 days left)".
	await byId('nav-settings').click();
	const exp = byId('certificate-expires');
	await exp.waitFor();
	const shown = await exp.evaluate((el) => ({ text: el.textContent, red: el.classList.contains('error-text') }));
	if (!shown.text.endsWith('(expired 1 day ago)') || !shown.red)
		throw new Error(`the expired certificate is shown as ${JSON.stringify(shown)}`);
	await screenshot('certificate-expired');
	log('spam: the expired certificate is said expired, in red');

	// The session ends while a form is being edited (another client with
	// the same cookie signs it out): the save asks for the password in a
	// dialog over the page, then goes through; nothing typed is lost.
	await byId('nav-spam').click();
	await byId('spam-junk').fill('7.5');
	await byId('spam-reject').fill('13');
	await endSession(page, cfg.url);
	// Saved as a keyboard user does: Enter in the field just typed in.
	await byId('spam-reject').press('Enter');
	const dialog = byId('relogin');
	await dialog.waitFor();
	const a11y = await page.evaluate(() => {
		const d = document.querySelector('[data-testid=relogin]');
		const label = document.getElementById(d.getAttribute('aria-labelledby'));
		return { modal: d.matches(':modal'), label: label && label.textContent,
			focus: document.activeElement && document.activeElement.getAttribute('data-testid') };
	});
	if (!a11y.modal || a11y.label !== 'Sign in again' || a11y.focus !== 'relogin-password')
		throw new Error(`the sign-in dialog is not a labelled modal with focus on the password: ${JSON.stringify(a11y)}`);
	await screenshot('relogin-dialog');
	await byId('relogin-password').fill(cfg.admin_password + 'x');
	await byId('relogin-submit').click();
	await dialog.getByText('Wrong password.').waitFor();
	await byId('relogin-password').fill(cfg.admin_password);
	await Promise.all([
		savedAndReloaded(),
		byId('relogin-submit').click(),
	]);
	await byId('spam-form').getByText('Saved. Applies to the next message.').waitFor();
	await dialog.waitFor({ state: 'detached' });
	// The focus is back in that field, not on the page's body.
	const back = await page.evaluate(() => document.activeElement && (document.activeElement.dataset.testid || document.activeElement.tagName));
	if (back !== 'spam-reject')
		throw new Error(`after the dialog the focus is on ${back}, not back in the field`);
	if ((await byId('spam-junk').inputValue()) !== '7.5' || (await byId('spam-reject').inputValue()) !== '13')
		throw new Error('the form lost what was typed across the sign-in');
	await check('thresholds 7.5 13 40');
	log('spam: a save after the session ended signed in again in a dialog and went through');

	// Another tab signs in again: this page now sends the new session's
	// cookie with the old session's CSRF token (403 csrf); the save reads
	// the current token and goes through once more.
	await byId('spam-discard').fill('41');
	const again = await page.context().request.post(cfg.url + '/api/v1/session', { data: { password: cfg.admin_password } });
	if (again.status() !== 200)
		throw new Error(`POST /session answered ${again.status()}`);
	await Promise.all([
		savedAndReloaded(),
		byId('spam-save').click(),
	]);
	await check('thresholds 7.5 13 41');
	log('spam: a save after another tab signed in again took the new CSRF token');

	// The same for a file upload (XMLHttpRequest, not fetch): the
	// phishing list sent once more with the current token.
	const again2 = await page.context().request.post(cfg.url + '/api/v1/session', { data: { password: cfg.admin_password } });
	if (again2.status() !== 200)
		throw new Error(`POST /session answered ${again2.status()}`);
	await byId('spam-phish-file').setInputFiles({
		name: 'feed2.txt', mimeType: 'text/plain',
		buffer: Buffer.from('https://evil.example/login/\nhttps://phish.test/\nhttps://third.test/x\n'),
	});
	await Promise.all([
		page.waitForResponse((r) => r.request().method() === 'PUT' && /\/api\/v1\/spam\/phish\?/.test(r.url()) && r.status() === 200),
		byId('spam-phish-upload').click(),
	]);
	await byId('spam-phish').getByText('Loaded 3 URLs.').waitFor();
	await check('phish list 3 from upload feed2.txt');
	log('spam: an upload after another tab signed in again took the new CSRF token');

	// A call in flight while another tab signs in again went out with the
	// session that sign-in ended: it answers 401 although the browser now
	// holds a live session. The page takes that session's token and sends
	// the call again, with no sign-in dialog; the next save carries the new
	// token at once. The route sends the page's GET with the cookie it had
	// when it left (a context of its own, no cookie jar), after the sign-in.
	const old = (await page.context().cookies()).find((c) => c.name === '__Host-tern_session');
	if (!old)
		throw new Error('no session cookie in the browser');
	let inFlight = 0;
	const recentUrl = /\/api\/v1\/spam\/recent$/;
	await page.route(recentUrl, async (route) => {
		const tab = await page.context().request.post(cfg.url + '/api/v1/session', { data: { password: cfg.admin_password } });
		if (tab.status() !== 200)
			throw new Error(`POST /session answered ${tab.status()}`);
		const bare = await request.newContext({ ignoreHTTPSErrors: true });
		const r = await bare.fetch(route.request().url(), {
			headers: { ...route.request().headers(), cookie: `${old.name}=${old.value}` },
		});
		inFlight = r.status();
		await route.fulfill({ status: r.status(), headers: r.headers(), body: await r.body() });
		await bare.dispose();
	}, { times: 1 });
	await Promise.all([
		page.waitForResponse((r) => recentUrl.test(r.url()) && r.status() === 200),
		byId('spam-recent-refresh').click(),
	]);
	if (inFlight !== 401)
		throw new Error(`the GET sent with the ended session answered ${inFlight}, not 401`);
	if ((await byId('relogin').count()) !== 0)
		throw new Error('a call cut short by another tab\'s sign-in opened the sign-in dialog');
	await byId('spam-discard').fill('42');
	const [[saved42]] = await Promise.all([
		savedAndReloaded(false),
		byId('spam-save').click(),
	]);
	if (saved42.status() !== 200)
		throw new Error(`the save after it answered ${saved42.status()}: the page kept the ended session's token`);
	await byId('spam-form').getByText('Saved. Applies to the next message.').waitFor();
	await check('thresholds 7.5 13 42');
	log('spam: a call cut short by another tab\'s sign-in went again without a dialog');

	// Escape dismisses the dialog only: the page stays with what was
	// typed and says why the save failed; saving again asks again and
	// goes through. Cancel is the way to the login page.
	await byId('spam-junk').fill('8');
	await endSession(page, cfg.url);
	await byId('spam-save').click();
	await byId('relogin-password').waitFor();
	await page.keyboard.press('Escape');
	await byId('relogin').waitFor({ state: 'detached' });
	await byId('spam-form').getByText('Your session has ended.', { exact: false }).waitFor();
	if ((await byId('login').count()) !== 0 || (await byId('spam-junk').inputValue()) !== '8')
		throw new Error('Escape in the sign-in dialog left the page or lost what was typed');
	await check('thresholds 7.5 13 42');
	await byId('spam-save').click();
	await byId('relogin-password').fill(cfg.admin_password);
	await Promise.all([
		savedAndReloaded(),
		byId('relogin-submit').click(),
	]);
	await check('thresholds 8 13 42');
	log('spam: Escape in the sign-in dialog keeps the page and its form; saving again signs in');
	await endSession(page, cfg.url);
	await byId('spam-save').click();
	await byId('relogin-cancel').click();
	await byId('login').waitFor();
	log('spam: Cancel in the sign-in dialog goes to the login page');
});
