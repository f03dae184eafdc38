// portal.jsx - the account's own pages at /account (API: /api/v1/me,
// app/http/api_me.c): sign in with address and password (and a TOTP code
// when on), then profile and usage, password, where it is signed in (sessions.jsx), app passwords, JMAP tokens, forwarding
// to outside addresses, the spam filter's allow and block lists, encryption at rest, two-factor sign-in, Sieve filters, and mail app set-up (settings in words, the
// Apple profile, a QR code of this page for the phone). Separate from the
// admin: its own session cookie, no admin page reachable from here.
import { useEffect, useRef, useState } from 'preact/hooks';
import { del, errorText, get, patch, post, put, seg, setCsrf, setCsrfSource, setUnauthorizedHandler } from './api.js';
import { CodeField, SignInDialog, signInError, useSignIn } from './signin.jsx';
import { ConfirmButton, CopyButton, ErrorBox, Field, Loading, Notice, StrengthMeter, TextArea, useAction, useLoad, useTitle } from './components.jsx';
import { bytes, dateTime } from './format.js';
import { QrCode, TwoFactor } from './twofactor.jsx';
import { Sessions } from './sessions.jsx';

export function Portal() {
	const [me, setMe] = useState(undefined);
	// The sign-in dialog over the signed-in pages while a call waits on
	// it (api.js retries the call once it resolves true).
	const [relogin, setRelogin] = useState(null);
	const meRef = useRef(me);
	meRef.current = me;
	// The portal is the account's, not the admin's: its own window title.
	useTitle(me ? 'Your account' : 'Sign in', 'tern mail');
	// GET /me failing other than 401 (the server unreachable, 503) is
	// said with a way to try again: a sign-in form would tell a signed-in
	// user their session ended. After a save (me set) the page stays.
	const [error, setError] = useState(null);
	const load = async () => {
		setError(null);
		try {
			const m = await get('/me');
			setCsrf(m.csrf);
			setMe(m);
		} catch (e) {
			if (e.status === 401)
				setMe(null);
			else
				setError(e);
		}
	};
	useEffect(() => {
		setCsrfSource('/me');
		setUnauthorizedHandler(() => {
			if (!meRef.current) {
				setCsrf(null);
				return false;
			}
			return new Promise((resolve) => setRelogin({ resolve }));
		});
		load();
	}, []);
	if (me === undefined && error)
		return (
			<main class="center">
				<h1>Your mail account</h1>
				<p class="alert alert-error" role="alert">{errorText(error)}</p>
				<button class="btn" onClick={load} data-testid="portal-retry">Try again</button>
			</main>
		);
	if (me === undefined)
		return <main class="center"><p class="muted" aria-busy="true">Loading…</p></main>;
	if (me === null)
		return <PortalLogin onLogin={load} />;
	// As the admin's (app.jsx): Cancel signs out, Escape (null) keeps the page.
	const reloginDone = (ok) => {
		setRelogin(null);
		if (ok === false) {
			setCsrf(null);
			setMe(null);
		}
		relogin.resolve(!!ok);
	};
	const logout = async () => {
		try {
			await del('/me/session');
		} catch (e) {
			/* gone already */
		}
		setCsrf(null);
		setMe(null);
	};
	return (
		<div class="admin portal">
			<header class="topbar">
				<span class="brand">tern</span>
				<span class="muted" data-testid="portal-email">{me.email}</span>
				<button class="btn btn-small" onClick={logout} data-testid="portal-logout">Sign out</button>
			</header>
			<main id="content">
				<h1>Your account</h1>
				<Profile me={me} onChange={load} />
				<Password />
				<Sessions />
				<AppPasswords />
				<AppPasswords kind="token" />
				<Forwarding />
				<SenderLists />
				<Encryption />
				<TwoFactor base="/me/totp" who="Your account" />
				<Filters />
				<Setup me={me} />
			</main>
			{relogin ? <SignInDialog path="/me/session" email={me.email} onDone={reloginDone} /> : null}
		</div>
	);
}

function PortalLogin({ onLogin }) {
	const [email, setEmail] = useState('');
	const [pw, setPw] = useState('');
	const s = useSignIn('/me/session', () => ({ email: email.trim(), password: pw }), onLogin);
	return (
		<main class="center">
			<form class="card login" onSubmit={s.submit} data-testid="portal-login">
				<p class="brand">tern</p>
				<h1>Your mail account</h1>
				<Field label="Email address" type="email" value={email} onInput={setEmail} autoComplete="username" required testid="portal-email-input" />
				<Field label="Password" type="password" value={pw} onInput={setPw} autoComplete="current-password" required testid="portal-password" />
				<CodeField s={s} testid="portal-code" />
				<ErrorBox error={signInError(s.error, 'Wrong address or password.')} />
				<div class="buttons"><button class="btn btn-primary" type="submit" disabled={s.busy} data-testid="portal-login-submit">Sign in</button></div>
			</form>
		</main>
	);
}

function Profile({ me, onChange }) {
	const [name, setName] = useState(me.display_name || '');
	const [msg, setMsg] = useState('');
	const a = useAction();
	const save = (e) => {
		e.preventDefault();
		setMsg('');
		a.run(async () => {
			await patch('/me', { display_name: name.trim() });
			setMsg('Name saved.');
			onChange();
		});
	};
	const pct = me.quota ? Math.min(100, Math.round((me.used / me.quota) * 100)) : 0;
	return (
		<form class="card" onSubmit={save} data-testid="portal-profile">
			<h2>Profile</h2>
			<p data-testid="portal-usage">
				Storage: {bytes(me.used)}{me.quota ? ` of ${bytes(me.quota)} (${pct}%)` : ' (no limit)'}
				{me.quota ? <meter min={0} max={me.quota} value={me.used} aria-label={`${pct}% of quota used`} /> : null}
			</p>
			<Field label="Your name (shown beside your address)" value={name} onInput={setName} maxLength={128}
				autoComplete="name" testid="portal-display-name" error={a.error && a.error.field === 'display_name' ? a.error.message : undefined} />
			<ErrorBox error={a.error && !a.error.field ? a.error : null} />
			<Notice testid="portal-profile-saved">{msg}</Notice>
			<div class="buttons"><button class="btn" type="submit" disabled={a.busy} data-testid="portal-profile-save">Save</button></div>
		</form>
	);
}

function Password() {
	const [cur, setCur] = useState('');
	const [pw, setPw] = useState('');
	const [pw2, setPw2] = useState('');
	const [msg, setMsg] = useState('');
	const a = useAction();
	const mismatch = pw2 && pw !== pw2 ? 'The two passwords differ.' : undefined;
	const save = (e) => {
		e.preventDefault();
		setMsg('');
		if (mismatch)
			return;
		a.run(async () => {
			await put('/me/password', { current: cur, password: pw });
			setCur('');
			setPw('');
			setPw2('');
			setMsg('Password changed. Mail apps that use it must be given the new one.');
		});
	};
	const fe = (f) => (a.error && a.error.field === f ? a.error.message : undefined);
	return (
		<form class="card" onSubmit={save} data-testid="portal-password-form">
			<h2>Password</h2>
			<Field label="Current password" type="password" value={cur} onInput={setCur} autoComplete="current-password" required
				testid="portal-current-password" error={fe('current')} />
			<Field label="New password (8 to 256 characters, not easy to guess)" type="password" value={pw} onInput={setPw} autoComplete="new-password"
				required minLength={8} maxLength={256} testid="portal-new-password" error={fe('password')} />
			<StrengthMeter password={pw} testid="portal-password-meter" />
			<Field label="The same again" type="password" value={pw2} onInput={setPw2} autoComplete="new-password" required
				testid="portal-new-password2" error={mismatch} />
			<ErrorBox error={a.error && !a.error.field ? a.error : null} />
			<Notice testid="portal-password-changed">{msg}</Notice>
			<div class="buttons"><button class="btn" type="submit" disabled={a.busy || !!mismatch} data-testid="portal-password-save">Change password</button></div>
		</form>
	);
}

// App passwords and JMAP tokens are one mechanism on the server (the same
// records, a scope apart): one card for both, each kind its own words.
// The web admin shows both cards on an account's panel too (base: that
// account's route; its own words, `admin`). The admin's list of app
// passwords holds every record with its scope: each card keeps its own.
// In the portal a new one takes the current password too: it outlives a
// change of the password, so the API refuses a session alone
// (api_apppass.c); the admin is not asked.
const SECRET_KINDS = {
	apppass: {
		path: '/app-passwords', list: 'app_passwords', secret: 'password', title: 'App passwords', testid: 'apppass', scope: 'mail',
		about: 'Give each mail app a password of its own: you can revoke one without changing the others. With two-factor sign-in on, mail apps sign in with these only.',
		admin: 'A password of its own for one mail app of this account (IMAP, POP3, SMTP submission, ManageSieve). It is shown once, here; the account sees it listed in its portal and can revoke it too. Revoking one ends the mail sessions signed in with it.',
		none: 'No app passwords yet.', made: 'Password for', label: 'Name (phone, laptop…)',
	},
	token: {
		path: '/jmap-tokens', list: 'tokens', secret: 'token', title: 'JMAP tokens', testid: 'token', scope: 'jmap',
		about: 'For programs and apps that speak JMAP: they send the token as "Authorization: Bearer". A token opens JMAP only, never IMAP or SMTP.',
		admin: 'For a program that reads or sends this account\'s mail over JMAP ("Authorization: Bearer"). The token is shown once, here; the account sees it listed in its portal and can revoke it too. It opens JMAP only.',
		none: 'No tokens yet.', made: 'Token for', label: 'Name (what uses it)',
	},
};

export function AppPasswords({ kind = 'apppass', base = '/me', admin = false }) {
	const k = { ...SECRET_KINDS[kind], path: base + SECRET_KINDS[kind].path };
	if (admin && k.admin)
		k.about = k.admin;
	const list = useLoad(() => get(k.path), [k.path]);
	const [name, setName] = useState('');
	const [password, setPassword] = useState('');
	const [made, setMade] = useState(null);
	const a = useAction();
	const add = (e) => {
		e.preventDefault();
		a.run(async () => {
			setMade(await post(k.path, { name: name.trim(), password }));
			setName('');
			setPassword('');
			list.reload();
		});
	};
	// Revoking asks for the password again too (the admin's on the admin's panel).
	const revoke = (n, pw) => a.run(async () => {
		await del(`${k.path}/${seg(n)}`, { password: pw });
		if (made && made.name === n)
			setMade(null);
		list.reload();
	});
	const items = ((list.data && list.data[k.list]) || []).filter((p) => !p.scope || p.scope === k.scope);
	const id = k.testid;
	return (
		<section class="card" data-testid={`portal-${id}`}>
			<h2>{k.title}</h2>
			<p>{k.about}</p>
			<ErrorBox error={list.error || (a.error && a.error.field !== 'name' && a.error.field !== 'password' ? a.error : null)} />
			{made ? (
				<div data-testid={`${id}-made`}>
					<Notice>{k.made} {made.name}, shown only now:</Notice>
					<p><code class="secret" data-testid={`${id}-secret`}>{made[k.secret]}</code> <CopyButton text={made[k.secret]} /></p>
				</div>
			) : null}
			{items.length ? (
				<div class="table-wrap">
					<table>
						<thead><tr><th scope="col">Name</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col"><span class="offscreen">Actions</span></th></tr></thead>
						<tbody>
							{items.map((p) => (
								<tr key={p.name} data-testid={`${id}-row`}>
									<td>{p.name}</td>
									<td>{dateTime(p.created_at)}</td>
									<td>{p.last_used ? dateTime(p.last_used) : 'never'}</td>
									<td class="actions"><ConfirmButton label="Revoke" confirm="Revoke {name}?" name={p.name} password pwLabel={admin ? 'Admin password' : 'Your password'} onConfirm={(pw) => revoke(p.name, pw)} testid={`${id}-revoke`} /></td>
								</tr>
							))}
						</tbody>
					</table>
				</div>
			) : list.data ? <p class="muted">{k.none}</p> : list.error ? null : <Loading />}
			<form onSubmit={add} class="inline-form">
				<Field label={k.label} value={name} onInput={setName} maxLength={64} required testid={`${id}-name`}
					error={a.error && a.error.field === 'name' ? a.error.message : undefined} />
				{/* The account's password in the portal; on the admin's panel the
				    admin's (a session alone makes no secret that outlives it). */}
				<Field label={admin ? 'Admin password' : 'Current password'} type="password" value={password} onInput={setPassword}
					autoComplete="current-password" required testid={`${id}-password`}
					error={a.error && a.error.field === 'password' ? a.error.message : undefined} />
				<button class="btn" type="submit" disabled={a.busy} data-testid={`${id}-add`}>Create</button>
			</form>
		</section>
	);
}

// Forwarding: up to four outside addresses, one a line, and whether this
// mailbox keeps a copy. The server checks the addresses (none at our own
// domains) and answers with what it stored; an empty list turns it off.
// Forwarding somewhere takes the current password (a session alone could
// keep receiving the mail after the password changed); turning it off
// does not.
function Forwarding() {
	const cur = useLoad(() => get('/me/forwarding'));
	const [text, setText] = useState(null);
	const [keep, setKeep] = useState(true);
	const [password, setPassword] = useState('');
	const [msg, setMsg] = useState('');
	const a = useAction();
	useEffect(() => {
		if (cur.data && text === null) {
			setText(cur.data.addresses.join('\n'));
			setKeep(cur.data.keep);
		}
	}, [cur.data]);
	const save = (e) => {
		e.preventDefault();
		setMsg('');
		a.run(async () => {
			const addresses = (text || '').split(/[\s,]+/).filter((x) => x);
			const got = await put('/me/forwarding', addresses.length ? { addresses, keep, password } : { addresses, keep });
			setPassword('');
			setText(got.addresses.join('\n'));
			setKeep(got.keep);
			setMsg(got.addresses.length ? 'Forwarding saved.' : 'Forwarding is off.');
		});
	};
	if (!cur.data)
		return <section class="card"><h2>Forwarding</h2><ErrorBox error={cur.error} />{cur.error ? null : <Loading />}</section>;
	const err = a.error && a.error.field === 'addresses' ? a.error.message : '';
	const on = (text || '').trim() !== '';
	return (
		<form class="card" onSubmit={save} data-testid="portal-forwarding">
			<h2>Forwarding</h2>
			<p>Mail that arrives for you is also sent to these addresses (at most four, one a line). Leave it empty to forward nothing.</p>
			<div class={'field' + (err ? ' field-error' : '')}>
				<label for="fwd-addresses">Forward to</label>
				<textarea id="fwd-addresses" rows={3} value={text || ''} onInput={(e) => setText(e.currentTarget.value)}
					aria-invalid={err ? 'true' : undefined} aria-describedby={err ? 'fwd-error' : undefined} data-testid="forward-addresses" />
				{err ? <p class="hint error-text" id="fwd-error">{err}</p> : null}
			</div>
			<div class="field checkbox">
				<input id="fwd-keep" type="checkbox" checked={keep} onChange={(e) => setKeep(e.currentTarget.checked)} data-testid="forward-keep" />
				<label for="fwd-keep">Keep a copy here</label>
			</div>
			{on ? (
				<Field label="Current password" type="password" value={password} onInput={setPassword} autoComplete="current-password"
					required testid="forward-password" error={a.error && a.error.field === 'password' ? a.error.message : undefined} />
			) : null}
			<ErrorBox error={a.error && a.error.field !== 'addresses' && a.error.field !== 'password' ? a.error : null} />
			<Notice testid="forward-saved">{msg}</Notice>
			<div class="buttons"><button class="btn" type="submit" disabled={a.busy} data-testid="forward-save">Save</button></div>
		</form>
	);
}

// The account's own allow and block lists (GET/PUT /me/spam-lists: the
// lists the administrator sees for the account, with the same checks;
// the server names the field of a bad entry).
function SenderLists() {
	const cur = useLoad(() => get('/me/spam-lists'));
	const [allow, setAllow] = useState(null);
	const [block, setBlock] = useState(null);
	const [msg, setMsg] = useState('');
	const a = useAction();
	const lines = (list) => (list || []).join('\n');
	const entries = (text) => (text || '').split(/[\s,]+/).filter((x) => x);
	useEffect(() => {
		if (cur.data && allow === null) {
			setAllow(lines(cur.data.allow));
			setBlock(lines(cur.data.block));
		}
	}, [cur.data]);
	const save = (e) => {
		e.preventDefault();
		setMsg('');
		a.run(async () => {
			const got = await put('/me/spam-lists', { allow: entries(allow), block: entries(block) });
			setAllow(lines(got.allow));
			setBlock(lines(got.block));
			setMsg('Lists saved.');
		});
	};
	if (!cur.data)
		return <section class="card"><h2>Allowed and blocked senders</h2><ErrorBox error={cur.error} />{cur.error ? null : <Loading />}</section>;
	return (
		<form class="card" onSubmit={save} data-testid="portal-spam-lists">
			<h2>Allowed and blocked senders</h2>
			<p>Addresses, domains (with their subdomains) or networks, one a line. Mail from an allowed sender is never
				treated as spam (an address or domain counts only when the sender proved it); mail from a blocked one is refused.</p>
			<TextArea label="Allowed senders" value={allow || ''} onInput={setAllow} error={a.fieldError('allow')} testid="portal-allow" />
			<TextArea label="Blocked senders" value={block || ''} onInput={setBlock} error={a.fieldError('block')} testid="portal-block" />
			<ErrorBox error={a.other('allow', 'block')} />
			<Notice testid="portal-lists-saved">{msg}</Notice>
			<div class="buttons"><button class="btn" type="submit" disabled={a.busy} data-testid="portal-lists-save">Save</button></div>
		</form>
	);
}

// What an account's encryption at rest is (GET .../encryption, on), for
// the portal and the admin's account panel: testid prefixes the key's.
export function EncryptionOn({ st, testid }) {
	return (
		<>
			<p>On: {st.method === 'openpgp' ? 'OpenPGP' : 'S/MIME'}, {st.cipher === 'aes128' ? 'AES-128' : 'AES-256'}, {st.algorithm || ''} key
				{st.fingerprint ? <> <code data-testid={`${testid}-fingerprint`}>{st.fingerprint}</code></> : null}
				{st.email ? <> for {st.email}</> : null}
				{st.expires ? <>, expires {dateTime(st.expires)}</> : null}
				{st.encrypt_on_append ? '; what mail apps store here (sent mail, drafts) is encrypted too' : ''}; set {dateTime(st.set_at)}.</p>
			{st.usable ? null : <p class="error-text">This key can no longer be used ({st.problem}); mail is stored as it arrives until another is set.</p>}
		</>
	);
}

// Encryption at rest: the user's OpenPGP public key or S/MIME certificate,
// pasted or read from a file; mail delivered from then on is stored
// encrypted to it. The server reads the key and says why one cannot be
// used; it never gives the key's text back, only what it is.
function Encryption() {
	const cur = useLoad(() => get('/me/encryption'));
	const [method, setMethod] = useState('openpgp');
	const [cipher, setCipher] = useState('aes256');
	const [onAppend, setOnAppend] = useState(false);
	const [key, setKey] = useState('');
	const [password, setPassword] = useState('');
	const [msg, setMsg] = useState('');
	const a = useAction();
	// A binary export (gpg --export, a .der or .cer certificate) is
	// wrapped as the text form the server reads: OpenPGP armor (its
	// checksum line is optional) or PEM.
	const readFile = async (e) => {
		const f = e.currentTarget.files[0];
		if (!f)
			return;
		const b = new Uint8Array(await f.arrayBuffer());
		if (b.length === 0 || (b[0] !== 0x30 && !(b[0] & 0x80))) {
			setKey(new TextDecoder().decode(b));
			return;
		}
		let bin = '';
		for (const x of b)
			bin += String.fromCharCode(x);
		const lines = btoa(bin).match(/.{1,64}/g).join('\n');
		setKey(b[0] === 0x30
			? `-----BEGIN CERTIFICATE-----\n${lines}\n-----END CERTIFICATE-----\n`
			: `-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n${lines}\n-----END PGP PUBLIC KEY BLOCK-----\n`);
	};
	const save = (e) => {
		e.preventDefault();
		setMsg('');
		a.run(async () => {
			await put('/me/encryption', { method, cipher, key, encrypt_on_append: onAppend, password });
			setKey('');
			setPassword('');
			setMsg('New mail is now stored encrypted.');
			cur.reload();
		});
	};
	const off = (pw) => a.run(async () => {
		await del('/me/encryption', { password: pw });
		setMsg('New mail is stored as it arrives.');
		cur.reload();
	});
	if (!cur.data)
		return <section class="card"><h2>Encryption</h2><ErrorBox error={cur.error} />{cur.error ? null : <Loading />}</section>;
	const st = cur.data;
	const err = a.error && a.error.field === 'key' ? a.error.message : '';
	return (
		<form class="card" onSubmit={save} data-testid="portal-encryption">
			<h2>Encryption</h2>
			<p>Mail that arrives for you can be stored encrypted to your own OpenPGP key or S/MIME certificate: only your mail app, which holds the private key, can read it, and nobody with access to this server can. Headers (sender, subject, date) stay readable, and the server can no longer search message text.</p>
			{st.method === 'none' ? <p data-testid="encryption-state">Off: mail is stored as it arrives.</p> : (
				<div data-testid="encryption-state">
					<EncryptionOn st={st} testid="encryption" />
					<ConfirmButton label="Turn off" confirm="Store new mail unencrypted?" password pwLabel="Your password" onConfirm={off} testid="encryption-off" />
				</div>
			)}
			<div class="field">
				<label for="enc-method">Kind</label>
				<select id="enc-method" value={method} onChange={(e) => setMethod(e.currentTarget.value)} data-testid="encryption-method">
					<option value="openpgp">OpenPGP public key</option>
					<option value="smime">S/MIME certificate</option>
				</select>
			</div>
			<div class="field">
				<label for="enc-cipher">Cipher</label>
				<select id="enc-cipher" value={cipher} onChange={(e) => setCipher(e.currentTarget.value)}>
					<option value="aes256">AES-256</option>
					<option value="aes128">AES-128</option>
				</select>
			</div>
			<div class="field checkbox">
				<input id="enc-append" type="checkbox" checked={onAppend} onChange={(e) => setOnAppend(e.currentTarget.checked)} data-testid="encryption-on-append" />
				<label for="enc-append">Also encrypt what my mail apps store here (sent mail, drafts: an app that cannot decrypt will not show them)</label>
			</div>
			<div class={'field' + (err ? ' field-error' : '')}>
				<label for="enc-key">{method === 'openpgp' ? 'Public key (gpg --armor --export you@example.com)' : 'Certificate (PEM)'}</label>
				<textarea id="enc-key" rows={5} value={key} onInput={(e) => setKey(e.currentTarget.value)}
					aria-invalid={err ? 'true' : undefined} aria-describedby={err ? 'enc-error' : undefined} data-testid="encryption-key" />
				<input type="file" accept=".asc,.gpg,.pgp,.pem,.crt,.cer,.der,.txt" onChange={readFile} aria-label="Read the key from a file" data-testid="encryption-file" />
				{err ? <p class="hint error-text" id="enc-error" data-testid="encryption-error">{err}</p> : null}
			</div>
			{/* A key you cannot decrypt with would leave you mail you cannot
			    read: the server asks for the password (not a session alone). */}
			<Field label="Current password" type="password" value={password} onInput={setPassword} autoComplete="current-password"
				required testid="encryption-password" error={a.error && a.error.field === 'password' ? a.error.message : undefined} />
			<ErrorBox error={a.error && a.error.field !== 'key' && a.error.field !== 'password' ? a.error : null} />
			<Notice testid="encryption-saved">{msg}</Notice>
			<div class="buttons"><button class="btn" type="submit" disabled={a.busy || !key} data-testid="encryption-save">Encrypt new mail</button></div>
		</form>
	);
}

// The vacation form writes the script "vacation" (RFC 5230) and makes it
// the active one, and turns it off again (deactivates it: the text stays
// for next time, and fills the form); the raw editor edits any script,
// with the compiler's error shown as the server gives it. Each script is
// turned on or off, and an inactive one deleted (the server keeps an
// active one), from the list. A script that redirects (or notifies)
// sends mail elsewhere, so the server asks for the current password then,
// as forwarding does (api_sieve.c); deleting one asks for it as every
// removal does.
function sieveString(s) {
	return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

// The subject and text back from a script the form wrote, or null.
const VACATION_RE = /^require \["vacation"\];\nvacation :days 7 :subject "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)";\n$/;
function vacationOf(script) {
	const m = VACATION_RE.exec(script || '');
	const un = (x) => x.replace(/\\(.)/g, '$1');
	return m ? { subject: un(m[1]), text: un(m[2]) } : null;
}

function Filters() {
	const list = useLoad(() => get('/me/sieve'));
	const [name, setName] = useState('main');
	const [text, setText] = useState('require ["fileinto"];\n');
	const [password, setPassword] = useState('');
	const [msg, setMsg] = useState('');
	const [vSubject, setVSubject] = useState('Away');
	const [vText, setVText] = useState('');
	const [vLoaded, setVLoaded] = useState(false);
	const a = useAction();
	const scripts = (list.data && list.data.scripts) || [];
	const vac = scripts.find((s) => s.name === 'vacation');
	// A vacation reply set before (here or over ManageSieve in the same
	// form) fills the form, so it is edited rather than typed again.
	useEffect(() => {
		if (!vac || vLoaded)
			return;
		setVLoaded(true);
		get('/me/sieve/vacation').then((s) => {
			const v = vacationOf(s.script);
			if (v) {
				setVSubject(v.subject);
				setVText(v.text);
			}
		}, () => {});
	}, [vac, vLoaded]);
	const open = (n) => a.run(async () => {
		const s = await get(`/me/sieve/${seg(n)}`);
		setName(s.name);
		setText(s.script);
	});
	const save = (e) => {
		e.preventDefault();
		setMsg('');
		a.run(async () => {
			await put(`/me/sieve/${seg(name.trim())}`, password ? { script: text, active: true, password } : { script: text, active: true });
			setPassword('');
			setMsg(`Filter ${name.trim()} saved and active.`);
			list.reload();
		});
	};
	const vacation = (e) => {
		e.preventDefault();
		setMsg('');
		a.run(async () => {
			const script = `require ["vacation"];\nvacation :days 7 :subject ${sieveString(vSubject)} ${sieveString(vText)};\n`;
			await put('/me/sieve/vacation', { script, active: true });
			setMsg('Vacation reply on.');
			list.reload();
		});
	};
	// On or off (one script is active at a time: turning one on turns
	// the one before off).
	const activate = (n, on) => a.run(async () => {
		setMsg('');
		await put(`/me/sieve/${seg(n)}`, { active: on });
		setMsg(n === 'vacation' ? (on ? 'Vacation reply on.' : 'Vacation reply off.') : `Filter ${n} ${on ? 'on' : 'off'}.`);
		list.reload();
	});
	const remove = (n, pw) => a.run(async () => {
		setMsg('');
		await del(`/me/sieve/${seg(n)}`, { password: pw });
		setMsg(`Filter ${n} deleted.`);
		list.reload();
	});
	return (
		<section class="card" data-testid="portal-filters">
			<h2>Filters and vacation reply</h2>
			<ErrorBox error={list.error || (a.error && a.error.field !== 'password' ? a.error : null)} />
			<Notice>{msg}</Notice>
			<form onSubmit={vacation}>
				<h3>Vacation reply</h3>
				<p data-testid="vacation-state">{vac && vac.active ? 'On: senders get this reply (once a week each).' : 'Off.'}</p>
				<Field label="Subject" value={vSubject} onInput={setVSubject} testid="vacation-subject" />
				<div class="field">
					<label for="vacation-text">Message</label>
					<textarea id="vacation-text" rows={4} value={vText} onInput={(e) => setVText(e.currentTarget.value)} data-testid="vacation-text" required />
				</div>
				<div class="buttons">
					<button class="btn" type="submit" disabled={a.busy} data-testid="vacation-save">{vac && vac.active ? 'Save the vacation reply' : 'Turn on the vacation reply'}</button>
					{vac && vac.active ? <button class="btn" type="button" disabled={a.busy} onClick={() => activate('vacation', false)} data-testid="vacation-off">Turn the vacation reply off</button> : null}
				</div>
			</form>
			<h3>Sieve scripts</h3>
			{scripts.length ? (
				<ul class="plain" data-testid="sieve-scripts">{scripts.map((s) => (
					<li key={s.name} data-testid="sieve-script" data-name={s.name} data-active={s.active ? 'yes' : 'no'}>
						<button class="linkish wrap" type="button" onClick={() => open(s.name)}>{s.name}</button>{s.active ? ' (active)' : ''}{' '}
						<button class="btn btn-small" type="button" disabled={a.busy} onClick={() => activate(s.name, !s.active)}
							data-testid={s.active ? 'sieve-off' : 'sieve-on'}>{s.active ? 'Turn off' : 'Turn on'}</button>{' '}
						{s.active ? null : <ConfirmButton label="Delete" confirm="Delete {name}?" name={s.name} password pwLabel="Your password"
							onConfirm={(pw) => remove(s.name, pw)} testid="sieve-delete" />}
					</li>
				))}</ul>
			) : <p class="muted">No filters yet.</p>}
			{/* A name has up to 128 characters (RFC 5804 §1.6); maxLength counts UTF-16 units, two for
			    a character past U+FFFF, so 256 lets every such name in and the server refuses longer. */}
			<form onSubmit={save}>
				<Field label="Script name" value={name} onInput={setName} maxLength={256} required testid="sieve-name" />
				<div class="field">
					<label for="sieve-text">Script (Sieve, RFC 5228)</label>
					<textarea id="sieve-text" class="code" rows={8} value={text} onInput={(e) => setText(e.currentTarget.value)} data-testid="sieve-text" />
				</div>
				<Field label="Current password (when the script redirects or notifies)" type="password" value={password} onInput={setPassword}
					autoComplete="current-password" testid="sieve-password" error={a.error && a.error.field === 'password' ? a.error.message : undefined} />
				<div class="buttons"><button class="btn" type="submit" disabled={a.busy} data-testid="sieve-save">Save and activate</button></div>
			</form>
		</section>
	);
}

function Setup({ me }) {
	const s = me.servers || {};
	const host = s.hostname;
	const incoming = s.imaps ? `IMAP, server ${host}, port ${s.imaps}, SSL/TLS` : s.imap ? `IMAP, server ${host}, port ${s.imap}, STARTTLS` : 'IMAP is off';
	const outgoing = s.submissions ? `SMTP, server ${host}, port ${s.submissions}, SSL/TLS` : s.submission ? `SMTP, server ${host}, port ${s.submission}, STARTTLS` : 'sending is off';
	const here = `${location.origin}/account`;
	return (
		<section class="card" data-testid="portal-setup">
			<h2>Set up a mail app</h2>
			<p>Thunderbird and Outlook find the settings themselves from your address. If one asks, give it:</p>
			<ul data-testid="setup-words">
				<li>Incoming: {incoming}</li>
				<li>Outgoing: {outgoing}</li>
				<li>User name: {me.email}, password: your password or an app password (always an app password once two-factor sign-in is on)</li>
			</ul>
			<p><a href="/api/v1/me/mobileconfig" download data-testid="setup-profile">Download the Apple profile</a> (iPhone, iPad, Mac: open it, then install it in Settings).</p>
			<p>On a phone, open this page by scanning:</p>
			<QrCode text={here} size={160} label="QR code of this page's address" testid="setup-qr" />
		</section>
	);
}
