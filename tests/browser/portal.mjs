#!/usr/bin/env node
// portal.mjs - the account portal (/account) and the admin's two-factor
// sign-in in headless Chromium (playwright-core, Debian's chromium):
// a user signs in, sets a display name (the session ended meanwhile: the
// sign-in dialog over the page, then the save goes through), creates an app password, turns on
// TOTP, changes the password, downloads the Apple profile; then the admin
// turns on TOTP in Settings, signs in again with a code, and sees and turns
// off the encryption the user left on.
//
//   node tests/browser/portal.mjs '{"url":..., "email":..., "password":..., ...}'
//
// Driven by tests/proto/test_webui_portal.py over stdin/stdout: this
// script prints "NEED_CODE <base32 secret>" and reads one line, the code
// Python computed (auth-independent, RFC 6238 with hmac); it prints
// "APPPASS <secret>" and waits for "GO" while Python uses it over IMAP
// and SMTP; "QR <file> <text>" names a screenshot of a QR code Python
// decodes with zbarimg. Fails (exit 1) on a step that does not show what
// it should, a console error, or a request to another host.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ask } from './ask.mjs';
import { config, finish, log, open } from './browser.mjs';
import { overflow } from './layout.mjs';

const cfg = config(['url', 'email', 'password', 'new_password', 'admin_password', 'artifacts', 'pgp_key_file', 'pgp_fpr']);
const DISPLAY_NAME = `Pat <img src=x onerror="document.title='xss'"> Browser`;
const b = await open(cfg, { downloads: true });
const { page, byId, screenshot } = b;

// Screenshots a QR code alone and has Python decode it.
async function qr(testid, name) {
	const el = byId(testid);
	await el.waitFor();
	const file = join(cfg.artifacts, `qr-${name}.png`);
	await el.screenshot({ path: file });
	const text = await el.getAttribute('data-text');
	const ok = await ask(`QR ${file} ${text}`);
	if (ok !== 'OK')
		throw new Error(`QR code ${name} does not read back as ${text}: ${ok}`);
	return text;
}
// Turns TOTP on in the card on the page: enrol, QR, a wrong password, a
// wrong first code, then both right, recovery codes.
async function enableTotp(label, password) {
	await byId('totp-start').click();
	await byId('totp-enrol').waitFor();
	const uri = await qr('totp-qr', label);
	const secret = (await byId('totp-secret').textContent()).trim();
	if (!uri.includes(`secret=${secret}`))
		throw new Error(`the key shown (${secret}) is not the QR code's (${uri})`);
	await screenshot(`${label}-totp-enrol`);
	await byId('totp-code').fill('000000');
	await byId('totp-password').fill('not the password');
	await byId('totp-confirm').click();
	await page.getByText('the password is wrong').waitFor();
	await byId('totp-password').fill(password);
	await byId('totp-confirm').click();
	await page.getByText('that code does not match').waitFor();
	await byId('totp-code').fill(await ask(`NEED_CODE ${secret}`));
	await byId('totp-confirm').click();
	await byId('totp-recovery').waitFor();
	const codes = await byId('totp-recovery').locator('li').count();
	if (codes !== 10)
		throw new Error(`${codes} recovery codes shown, not 10`);
	await byId('totp-on').waitFor();
	await screenshot(`${label}-totp-on`);
	log(`${label}: two-factor sign-in on`);
	return secret;
}

// The window's title names the page and whose app it is (WCAG 2.4.2):
// every page was "tern admin", the account's portal too.
async function title(want) {
	try {
		await page.waitForFunction((t) => document.title === t, want, { timeout: 5000 });
	} catch (e) {
		throw new Error(`window title "${await page.title()}", not "${want}"`);
	}
}

// Waits for the element to hold the focus (it moves as the page renders),
// else fails with what.
async function hasFocus(loc, what) {
	await loc.waitFor();
	const el = await loc.elementHandle();
	try {
		await page.waitForFunction((e) => e === document.activeElement, el, { timeout: 5000 });
	} catch (e) {
		throw new Error(what);
	}
}

await finish(b, async () => {
	// ---- the account's portal ----
	await page.goto(cfg.url + '/account');
	await byId('portal-login').waitFor();
	await title('Sign in – tern mail');
	await byId('portal-email-input').fill(cfg.email);
	await byId('portal-password').fill('wrong password here');
	await byId('portal-login-submit').click();
	await page.getByText('Wrong address or password.').waitFor();
	await byId('portal-password').fill(cfg.password);
	await byId('portal-login-submit').click();
	await byId('portal-email').waitFor();
	if ((await byId('portal-email').textContent()) !== cfg.email)
		throw new Error('portal shows another address');
	await title('Your account – tern mail');
	await screenshot('portal');
	// No admin page from here: the admin API says 403 forbidden to this
	// session (known, not allowed; it said 401, as to nobody).
	const admin = await page.evaluate(async () => {
		const r = await fetch('/api/v1/accounts');
		return [r.status, (await r.json()).code];
	});
	if (admin[0] !== 403 || admin[1] !== 'forbidden')
		throw new Error(`the portal session on an admin route: ${admin}`);

	// The name is the user's to choose and the admin sees it later: markup
	// in it must stay text on both pages (and in the profile's XML).
	// The session is ended meanwhile (another client with the cookie
	// signs it out): the save asks for the password in a dialog over the
	// page, for this account, then goes through with the name as typed
	// (the admin's Accounts page shows it below).
	await byId('portal-display-name').fill(DISPLAY_NAME);
	const rq = page.context().request;
	const me = await (await rq.get(cfg.url + '/api/v1/me')).json();
	const out = await rq.delete(cfg.url + '/api/v1/me/session', { headers: { 'X-CSRF-Token': me.csrf } });
	if (out.status() !== 204)
		throw new Error(`DELETE /me/session answered ${out.status()}`);
	await byId('portal-profile-save').click();
	await byId('relogin').getByText(cfg.email).waitFor();
	if ((await page.evaluate(() => document.activeElement && document.activeElement.getAttribute('data-testid'))) !== 'relogin-password')
		throw new Error('the sign-in dialog did not take the focus');
	await byId('relogin-password').fill(cfg.password);
	await byId('relogin-submit').click();
	await byId('portal-profile-saved').waitFor();
	await byId('relogin').waitFor({ state: 'detached' });
	if ((await byId('portal-display-name').inputValue()) !== DISPLAY_NAME)
		throw new Error('the name typed was lost across the sign-in');
	log('portal: display name set, after signing in again in the dialog');

	// A new app password (or token, or forwarding) takes the current
	// password: a wrong one is said under its field.
	await byId('apppass-name').fill('phone');
	await byId('apppass-password').fill('not the password');
	await byId('apppass-add').click();
	await page.getByText('the password is wrong').waitFor();
	await byId('apppass-password').fill(cfg.password);
	await byId('apppass-add').click();
	const secret = (await byId('apppass-secret').textContent()).trim();
	await byId('apppass-row').waitFor();
	await screenshot('portal-apppass');

	// A JMAP token, shown once; Python uses it as a bearer token.
	await byId('token-name').fill('script');
	await byId('token-password').fill(cfg.password);
	await byId('token-add').click();
	const token = (await byId('token-secret').textContent()).trim();
	await byId('token-row').waitFor();
	if ((await ask(`TOKEN ${token}`)) !== 'GO')
		throw new Error('the JMAP token was refused');
	log('portal: jmap token made');

	// Forwarding: an address at our own domain is refused under the field,
	// an outside one is stored without a copy kept.
	await byId('forward-addresses').fill('someone@example.test');
	await byId('forward-password').fill(cfg.password);
	await byId('forward-save').click();
	await page.getByText('is at one of our domains').waitFor();
	await byId('forward-addresses').fill('Pat.Away@remote.test');
	await byId('forward-keep').uncheck();
	await byId('forward-password').fill(cfg.password);
	await byId('forward-save').click();
	await page.getByText('Forwarding saved.').waitFor();
	if ((await byId('forward-addresses').inputValue()) !== 'pat.away@remote.test')
		throw new Error('the forwarding form does not show what was stored');
	log('portal: forwarding set');

	// The account's own allow and block lists: a bad entry is refused
	// under its field, good ones come back lowercased and sorted.
	await byId('portal-block').fill('bad!entry');
	await byId('portal-lists-save').click();
	await page.getByText('not an address, domain or network').waitFor();
	await byId('portal-allow').fill('Friend.Example\n192.0.2.0/24');
	await byId('portal-block').fill('Spammer.Example');
	await byId('portal-lists-save').click();
	await page.getByText('Lists saved.').waitFor();
	if ((await byId('portal-allow').inputValue()) !== '192.0.2.0/24\nfriend.example' ||
	    (await byId('portal-block').inputValue()) !== 'spammer.example')
		throw new Error('the lists form does not show what was stored');
	log('portal: allow and block lists set');

	// A Sieve script with a redirect is forwarding by another road: it
	// takes the password too (this one never redirects: mail stays here).
	await byId('sieve-name').fill('away');
	await byId('sieve-text').fill('if false { redirect "pat.away@remote.test"; }\n');
	await byId('sieve-save').click();
	await page.getByText("field 'password' (the current password) is required").waitFor();
	await byId('sieve-password').fill(cfg.password);
	await byId('sieve-save').click();
	await page.getByText('Filter away saved and active.').waitFor();
	log('portal: a redirecting filter needs the password');

	// Encryption at rest: a text that is no key is refused under the
	// field; the account's OpenPGP key, read from a binary file, is taken
	// and shown by the fingerprint of its encryption subkey; then turned
	// off again.
	await byId('encryption-key').fill('not a key');
	await byId('encryption-password').fill(cfg.password);
	await byId('encryption-save').click();
	await byId('encryption-error').getByText('not an OpenPGP key').waitFor();
	// The key as gpg --export writes it (binary): the page armors it.
	await byId('encryption-file').setInputFiles(cfg.pgp_key_file);
	await page.waitForFunction(() => document.querySelector('[data-testid=encryption-key]').value
		.startsWith('-----BEGIN PGP PUBLIC KEY BLOCK-----'));
	await byId('encryption-save').click();
	await page.getByText('New mail is now stored encrypted.').waitFor();
	await byId('encryption-fingerprint').getByText(cfg.pgp_fpr).waitFor();
	await byId('encryption-off').click();
	// Turning it off asks for the password again, as every removal does.
	if (!(await byId('encryption-off-yes').isDisabled()))
		throw new Error('turning encryption off is offered without the password');
	await byId('encryption-off-password').fill(cfg.password);
	await byId('encryption-off-yes').click();
	await byId('encryption-state').getByText('Off: mail is stored as it arrives.').waitFor();
	// On again, left on: the admin's accounts page shows it (below). The
	// key takes the current password: a wrong one is said at its field.
	await byId('encryption-file').setInputFiles(cfg.pgp_key_file);
	await page.waitForFunction(() => document.querySelector('[data-testid=encryption-key]').value
		.startsWith('-----BEGIN PGP PUBLIC KEY BLOCK-----'));
	await byId('encryption-password').fill('not the password');
	await byId('encryption-save').click();
	await page.locator('.field-error [data-testid=encryption-password]').waitFor();
	await byId('encryption-password').fill(cfg.password);
	await byId('encryption-save').click();
	await byId('encryption-fingerprint').getByText(cfg.pgp_fpr).waitFor();
	log('portal: encryption on and off');

	const totpSecret = await enableTotp('portal', cfg.password);
	// Python now signs in to IMAP and SMTP: the app password works, the
	// account password does not.
	if ((await ask(`APPPASS ${secret}`)) !== 'GO')
		throw new Error('mail checks failed');

	await byId('portal-current-password').fill(cfg.password);
	// The live meter (issue 31): a middling password is named weak, with
	// the reason, before anything is sent; a strong one passes.
	await byId('portal-new-password').fill('summer2024');
	await page.locator('[data-testid=portal-password-meter][data-acceptable=no]').waitFor();
	const why = await byId('portal-password-meter-hint').textContent();
	if (!why.includes('too easy to guess (a common password or word)'))
		throw new Error(`meter hint: ${why}`);
	await byId('portal-new-password').fill(cfg.new_password);
	await page.locator('[data-testid=portal-password-meter][data-acceptable=yes]').waitFor();
	log('portal: strength meter shown');
	await byId('portal-new-password2').fill(cfg.new_password);
	await byId('portal-password-save').click();
	await byId('portal-password-changed').waitFor();
	log('portal: password changed');

	// The vacation reply (Sieve, RFC 5230) from the portal's form: a
	// two-line message with quotes, saved as the active script "vacation";
	// Python reads the stored script back and runs it on a message.
	await byId('vacation-subject').fill('Away until Monday');
	await byId('vacation-text').fill('I am away.\nBack on Monday, "really".');
	await byId('vacation-save').click();
	await byId('portal-filters').getByText('Vacation reply on.').waitFor();
	await byId('portal-filters').getByText('vacation (active)').waitFor();
	const vac = await ask('VACATION');
	if (vac !== 'GO')
		throw new Error(`vacation reply: ${vac}`);
	log('portal: vacation reply on');

	// Back on the page later, the form holds the reply that is on, and
	// turns it off (there was no way to but writing another script).
	await page.reload();
	await byId('portal-filters').waitFor();
	await page.waitForFunction(() => document.querySelector('[data-testid=vacation-text]').value === 'I am away.\nBack on Monday, "really".');
	if ((await byId('vacation-subject').inputValue()) !== 'Away until Monday')
		throw new Error('the vacation form does not show the reply that is on');
	await byId('vacation-state').getByText('On:').waitFor();
	// The filter "away" (inactive now) is deleted from the list, with the
	// keyboard: the question takes the focus (its password field), Escape
	// gives it back to the button, and the password is asked.
	const away = page.locator('[data-testid=sieve-script][data-name=away]');
	await away.locator('[data-testid=sieve-delete]').focus();
	await page.keyboard.press('Enter');
	await hasFocus(away.locator('[data-testid=sieve-delete-password]'),
		'the delete question does not take the focus');
	await page.keyboard.press('Escape');
	await hasFocus(away.locator('[data-testid=sieve-delete]'),
		'focus is not back on the Delete button after Escape');
	await page.keyboard.press('Enter');
	await page.keyboard.type(cfg.new_password);
	await page.keyboard.press('Enter');
	await away.waitFor({ state: 'detached' });
	log('portal: filter deleted, the question keyboard-usable');
	await byId('vacation-off').click();
	await byId('portal-filters').getByText('Vacation reply off.').waitFor();
	await byId('vacation-state').getByText('Off.').waitFor();
	const off = await ask('VACATION_OFF');
	if (off !== 'GO')
		throw new Error(`vacation reply off: ${off}`);
	log('portal: vacation reply off');

	const [download] = await Promise.all([page.waitForEvent('download'), byId('setup-profile').click()]);
	const file = join(cfg.artifacts, 'profile.mobileconfig');
	await download.saveAs(file);
	const profile = readFileSync(file, 'utf8');
	if (!profile.includes('<string>Pat &lt;img src=x onerror=') || profile.includes('<img') ||
	    !profile.includes(cfg.email))
		throw new Error('the downloaded profile lacks the display name or the address');
	log('portal: profile downloaded');
	await qr('setup-qr', 'setup');
	// The settings in words, for a mail app that does not find them: the
	// server, its TLS ports, the address as the user name.
	const words = await byId('setup-words').textContent();
	if (!/Incoming: IMAP, server \S+, port \d+, (SSL\/TLS|STARTTLS)/.test(words) ||
	    !/Outgoing: SMTP, server \S+, port \d+/.test(words) || !words.includes(`User name: ${cfg.email}`))
		throw new Error(`mail app settings in words: ${words}`);
	await screenshot('portal-setup');

	// The portal at a phone's width and a laptop's, with its tables filled:
	// nothing sticks out (the same check as the admin pages').
	for (const width of [360, 1280]) {
		await page.setViewportSize({ width, height: 900 });
		await byId('portal-email').waitFor();
		const over = await overflow(page);
		await screenshot(`layout-${width}-account`);
		if (over)
			throw new Error(`/account at ${width} px overflows: ${over}`);
	}
	await page.setViewportSize({ width: 1280, height: 900 });
	log('portal: layout at 360 and 1280 px checked');

	// Signed out, the portal asks for the code after the new password.
	await byId('portal-logout').click();
	await byId('portal-login').waitFor();
	await byId('portal-email-input').fill(cfg.email);
	await byId('portal-password').fill(cfg.new_password);
	await byId('portal-login-submit').click();
	await byId('portal-code').waitFor();
	await byId('portal-code').fill(await ask(`NEED_CODE ${totpSecret}`));
	await byId('portal-login-submit').click();
	await byId('portal-email').waitFor();
	log('portal: signed in again with a code');

	// ---- the admin's two-factor sign-in ----
	await page.goto(cfg.url + '/');
	await byId('login').waitFor();
	await title('Sign in – tern admin');
	await byId('login-password').fill(cfg.admin_password);
	await byId('login-submit').click();
	await title('Dashboard – tern admin');
	await byId('nav-settings').click();
	await byId('totp-card').waitFor();
	await title('Settings – tern admin');
	log('titles: each page names itself');
	const adminSecret = await enableTotp('admin', cfg.admin_password);
	await byId('logout').click();
	await byId('login').waitFor();
	await byId('login-password').fill(cfg.admin_password);
	await byId('login-submit').click();
	await byId('login-code').waitFor();
	await screenshot('admin-code-asked');
	await byId('login-code').fill(await ask(`NEED_CODE ${adminSecret}`));
	await byId('login-submit').click();
	await byId('nav-settings').waitFor();
	log('admin: signed in with a code');

	// The account's encryption as the admin sees it, by the key's
	// fingerprint; the admin turns it off (a user who lost the key).
	await byId('nav-accounts').click();
	const accountRow = page.locator(`[data-testid=account-row][data-email="${cfg.email}"]`);
	await accountRow.waitFor();
	if (!(await accountRow.innerText()).includes(DISPLAY_NAME) || (await accountRow.locator('img').count()) ||
	    (await page.title()) === 'xss')
		throw new Error(`the display name is not shown as text: ${await accountRow.innerHTML()}`);
	log('admin: display name shown as text');
	await accountRow.locator('[data-testid=account-edit]').click();
	await byId('account-encryption-fingerprint').getByText(cfg.pgp_fpr).waitFor();
	await screenshot('admin-account-encryption');
	await byId('account-encryption-off').click();
	await byId('account-encryption-off-password').fill(cfg.admin_password);
	await byId('account-encryption-off-yes').click();
	await byId('account-encryption').getByText('Off: mail is stored as it arrives.').waitFor();
	log('admin: encryption seen and turned off');

	// The session ends with two-factor on: the dialog over the page asks
	// for the password, then for a code, which takes the focus (a keyboard
	// user types it and presses Enter), and the save goes through.
	await byId('nav-spam').click();
	await byId('spam-junk').fill('6.5');
	const sess = await page.context().request.get(cfg.url + '/api/v1/session');
	const gone = await page.context().request.delete(cfg.url + '/api/v1/session', { headers: { 'X-CSRF-Token': (await sess.json()).csrf } });
	if (gone.status() !== 204)
		throw new Error(`DELETE /session answered ${gone.status()}`);
	await byId('spam-save').click();
	await byId('relogin-password').waitFor();
	await page.keyboard.type(cfg.admin_password);
	await page.keyboard.press('Enter');
	await byId('relogin-code').waitFor();
	await page.waitForFunction(() => document.activeElement?.dataset.testid === 'relogin-code', null, { timeout: 5000 })
		.catch(async () => {
			throw new Error(`the code field is not focused: ${await page.evaluate(() => document.activeElement?.dataset.testid || document.activeElement?.tagName)}`);
		});
	await screenshot('admin-relogin-code');
	await page.keyboard.type(await ask(`NEED_CODE ${adminSecret}`));
	await Promise.all([
		page.waitForResponse((r) => r.request().method() === 'PUT' && /\/api\/v1\/spam$/.test(r.url()) && r.status() === 200),
		page.keyboard.press('Enter'),
	]);
	await byId('relogin').waitFor({ state: 'detached' });
	if ((await byId('spam-junk').inputValue()) !== '6.5')
		throw new Error('the form lost what was typed across the sign-in');
	log('admin: signed in again in the dialog with a code');
});
