// wizard.jsx - the first-run wizard (API.md "Setup wizard"): setup code,
// admin password, host name, primary domain, first account, optional relay,
// then the DNS records to publish with a live check. Answers given by
// environment variables arrive as `locked` and are shown read-only.
import { useEffect, useState } from 'preact/hooks';
import { get, post, put, seg, setCsrf, setSetupCode } from './api.js';
import { DnsRecords } from './dns.jsx';
import { ErrorBox, Field, Notice, StrengthMeter, useAction, useTitle } from './components.jsx';

const STEPS = [
	['code', 'Setup code'],
	['admin', 'Admin password'],
	['hostname', 'Host name'],
	['domain', 'Mail domain'],
	['account', 'First account'],
	['relay', 'Relay host'],
	['dns', 'DNS records'],
];

function firstStep(st, authed) {
	if (authed)
		return 'hostname';
	if (st.admin_exists || (st.admin && st.admin.done))
		return 'admin'; // sign in with the existing admin password
	return st.code_required ? 'code' : 'admin';
}

export function Wizard({ initial, authed, onDone }) {
	const [st, setSt] = useState(initial);
	const [step, setStep] = useState(firstStep(initial, authed));
	const pos = STEPS.findIndex(([k]) => k === step);
	const go = (k) => setStep(k);
	const next = () => setStep(STEPS[Math.min(pos + 1, STEPS.length - 1)][0]);
	const back = pos > 2 ? () => setStep(STEPS[pos - 1][0]) : null;
	useTitle(`Setup, step ${pos + 1} of ${STEPS.length}: ${STEPS[pos][1]}`);

	useEffect(() => {
		const h = document.querySelector('.wizard h2');
		h && h.focus();
	}, [step]);

	let body;
	if (step === 'code')
		body = <CodeStep onNext={() => go('admin')} />;
	else if (step === 'admin')
		// Signed in now: the whole state (a stranger's GET /setup carries
		// only the first steps' flags).
		body = <AdminStep st={st} onNext={async () => { setSt(await get('/setup')); go('hostname'); }} />;
	else if (step === 'hostname')
		body = <HostnameStep st={st} setSt={setSt} onNext={next} back={back} />;
	else if (step === 'domain')
		body = <DomainStep st={st} setSt={setSt} onNext={next} back={back} />;
	else if (step === 'account')
		body = <AccountStep st={st} setSt={setSt} onNext={next} back={back} />;
	else if (step === 'relay')
		body = <RelayStep st={st} setSt={setSt} onNext={next} back={back} />;
	else
		body = <DnsStep st={st} onDone={onDone} back={back} />;

	return (
		<div class="wizard">
			<header class="wizard-head">
				<p class="brand">tern</p>
				{/* The page's h1 (each step's title is an h2 under it), looking as the line it was. */}
				<h1 class="muted">First-run setup</h1>
			</header>
			<nav aria-label="Setup steps">
				<ol class="steps">
					{STEPS.map(([k, label], i) => (
						<li key={k} class={i < pos ? 'done' : i === pos ? 'current' : ''} aria-current={i === pos ? 'step' : undefined}>
							{label}
						</li>
					))}
				</ol>
			</nav>
			<section class="card" data-testid={`wizard-step-${step}`} aria-labelledby="wizard-title">
				{body}
			</section>
		</div>
	);
}

function StepTitle({ children }) {
	return <h2 id="wizard-title" tabIndex={-1}>{children}</h2>;
}

function Buttons({ busy, back, nextLabel = 'Continue', extra }) {
	return (
		<div class="buttons">
			{back ? <button type="button" class="btn" onClick={back}>Back</button> : null}
			{extra}
			<button type="submit" class="btn btn-primary" disabled={busy} data-testid="wizard-next">{busy ? 'Working…' : nextLabel}</button>
		</div>
	);
}

function CodeStep({ onNext }) {
	const [code, setCode] = useState('');
	const a = useAction();
	const submit = (e) => {
		e.preventDefault();
		const c = code.trim().toUpperCase();
		a.run(async () => {
			await post('/setup/code', { code: c });
			setSetupCode(c);
			onNext();
		});
	};
	return (
		<form onSubmit={submit}>
			<StepTitle>Enter the setup code</StepTitle>
			<p>
				tern wrote a one-time setup code to its log when it started, in a line with
				<code data-testid="setup-code-line"> event=setup_code code=XXXX-XXXX-XXXX</code> (<code>docker logs tern</code> shows
				the log). <code>tern setup-code</code> prints it too.
			</p>
			{/* A wrong code is said under the field (API: field "code"), which takes the focus. */}
			<Field label="Setup code" value={code} onInput={setCode} testid="setup-code" autoComplete="off"
				spellcheck={false} required placeholder="XXXX-XXXX-XXXX" error={a.fieldError('code')} />
			<ErrorBox error={a.other('code')} />
			<Buttons busy={a.busy} />
		</form>
	);
}

function AdminStep({ st, onNext }) {
	const exists = st.admin_exists || (st.admin && st.admin.done);
	const locked = st.admin && st.admin.locked;
	const [pw, setPw] = useState('');
	const [pw2, setPw2] = useState('');
	const [mismatch, setMismatch] = useState(false);
	const a = useAction();
	const submit = (e) => {
		e.preventDefault();
		if (!exists && pw !== pw2) {
			setMismatch(true);
			return;
		}
		setMismatch(false);
		a.run(async () => {
			const r = exists ? await post('/session', { password: pw }) : await post('/setup/admin', { password: pw });
			setCsrf(r.csrf);
			setSetupCode(null);
			await onNext();
		});
	};
	if (exists) {
		return (
			<form onSubmit={submit}>
				<StepTitle>Sign in as admin</StepTitle>
				<p>
					{locked ? <>The admin password is set by <code>TERN_ADMIN_PASSWORD</code>. </> : <>The admin account exists already. </>}
					Sign in with it to continue the setup.
				</p>
				<Field label="Admin password" type="password" value={pw} onInput={setPw} testid="admin-password"
					autoComplete="current-password" required />
				<ErrorBox error={a.error} />
				<Buttons busy={a.busy} nextLabel="Sign in" />
			</form>
		);
	}
	return (
		<form onSubmit={submit}>
			<StepTitle>Choose the admin password</StepTitle>
			<p>This password signs you in to this admin page. Use at least 8 characters that are not easy to guess; a long passphrase of unrelated words is best. The meter under the field says how strong it is.</p>
			<Field label="Admin password" type="password" value={pw} onInput={setPw} testid="admin-password"
				autoComplete="new-password" required minLength={8} maxLength={256} error={a.fieldError('password')} />
			<StrengthMeter password={pw} testid="admin-password-meter" />
			<Field label="Repeat the password" type="password" value={pw2} onInput={setPw2} testid="admin-password2"
				autoComplete="new-password" required error={mismatch ? 'The passwords differ.' : undefined} />
			<ErrorBox error={a.error && !a.error.field ? a.error : null} />
			<Buttons busy={a.busy} />
		</form>
	);
}

function HostnameStep({ st, setSt, onNext, back }) {
	const h = st.hostname || {};
	const c = st.certificate || {};
	const [value, setValue] = useState(h.value || '');
	const [acme, setAcme] = useState(!!c.acme_email);
	const [email, setEmail] = useState(c.acme_email || '');
	const a = useAction();
	const submit = (e) => {
		e.preventDefault();
		const wantEmail = acme ? email.trim() : '';
		const certChanged = !c.locked && wantEmail !== (c.acme_email || '');
		if ((h.locked || value === h.value && h.value) && !certChanged)
			return onNext();
		a.run(async () => {
			if (!h.locked && !(value === h.value && h.value))
				setSt(await put('/setup/hostname', { hostname: value.trim() }));
			if (certChanged)
				setSt(await put('/setup/certificate', { acme_email: wantEmail }));
			onNext();
		});
	};
	return (
		<form onSubmit={submit}>
			<StepTitle>Host name</StepTitle>
			<p>The public name of this server: mail clients connect to it, other servers see it in greetings, and the TLS certificate is made for it. It needs an A (and AAAA) record pointing here.</p>
			<Field label="Host name" value={value} onInput={setValue} locked={h.locked} lockedBy="TERN_HOSTNAME"
				testid="hostname" placeholder="mail.example.com" required error={a.fieldError('hostname')} />
			<div class="field">
				<label>
					<input type="checkbox" checked={acme} disabled={c.locked} data-testid="acme-tick"
						onChange={(e) => setAcme(e.currentTarget.checked)} />
					{' '}Get a certificate from Let's Encrypt
				</label>
				<p class="hint">Port 443 of this host name must reach tern (see the README's "Certificates"). Without it, tern uses a self-signed certificate that mail clients warn about.</p>
			</div>
			{acme ? (
				<Field label="E-mail for Let's Encrypt (expiry notices)" type="email" value={email} onInput={setEmail}
					locked={c.locked} lockedBy="TERN_ACME_EMAIL" testid="acme-email" placeholder="you@example.com" required
					error={a.fieldError('acme_email')} />
			) : null}
			{h.value && h.fqdn === false ? <Notice kind="warn" testid="hostname-not-fqdn">{h.value} is not a fully qualified name (such as mail.example.com): other servers refuse mail from a bare name.</Notice> : null}
			{h.restart_required ? <Notice kind="info" testid="hostname-restart">The new host name is in use now (greeting, autoconfig, the Apple profile, Message-IDs, DNS records). The TLS certificate takes it when tern restarts.</Notice> : null}
			{st.restart_required && !h.restart_required ? <Notice kind="info">The certificate settings take effect when tern restarts.</Notice> : null}
			<ErrorBox error={a.error && !a.error.field ? a.error : null} />
			<Buttons busy={a.busy} back={back} />
		</form>
	);
}

function DomainStep({ st, setSt, onNext, back }) {
	const d = st.domain || {};
	const [value, setValue] = useState(d.value || '');
	const a = useAction();
	const submit = (e) => {
		e.preventDefault();
		if (d.locked || (d.done && value === d.value))
			return onNext();
		a.run(async () => {
			setSt(await put('/setup/domain', { domain: value.trim().toLowerCase() }));
			onNext();
		});
	};
	return (
		<form onSubmit={submit}>
			<StepTitle>Primary mail domain</StepTitle>
			<p>The domain in your addresses (the part after @). tern makes its DKIM signing keys now; you can add more domains later.</p>
			<Field label="Mail domain" value={value} onInput={setValue} locked={d.locked} lockedBy="TERN_DOMAIN"
				testid="domain" placeholder="example.com" required error={a.fieldError('domain')} />
			<ErrorBox error={a.error && !a.error.field ? a.error : null} />
			<Buttons busy={a.busy} back={back} />
		</form>
	);
}

function AccountStep({ st, setSt, onNext, back }) {
	const domain = (st.domain && st.domain.value) || 'example.com';
	const count = (st.account && st.account.count) || 0;
	const [email, setEmail] = useState('');
	const [pw, setPw] = useState('');
	const [name, setName] = useState('');
	const [cur, setCur] = useState('');
	// Once an admin exists the server asks for its password again here.
	const askAdmin = !!st.admin_exists;
	const a = useAction();
	const submit = (e) => {
		e.preventDefault();
		a.run(async () => {
			const body = { email: email.trim().toLowerCase(), password: pw };
			if (name.trim())
				body.display_name = name.trim();
			if (askAdmin)
				body.current = cur;
			await post('/setup/account', body);
			setSt({ ...st, account: { done: true, count: count + 1 } });
			onNext();
		});
	};
	return (
		<form onSubmit={submit}>
			<StepTitle>First mail account</StepTitle>
			<p>The mailbox you will read with your mail app. Its password is separate from the admin password.</p>
			{count ? <Notice kind="info">{count} account{count > 1 ? 's exist' : ' exists'} already; you may skip this step.</Notice> : null}
			<Field label="Email address" type="email" value={email} onInput={setEmail} testid="account-email"
				placeholder={`you@${domain}`} required autoComplete="off" error={a.fieldError('email')} />
			<Field label="Your name (optional: shown beside your address)" value={name} onInput={setName} testid="account-display-name"
				maxLength={128} autoComplete="name" error={a.fieldError('display_name')} />
			<Field label="Password" type="password" value={pw} onInput={setPw} testid="account-password"
				autoComplete="new-password" required minLength={8} maxLength={256} error={a.fieldError('password')} />
			<StrengthMeter password={pw} testid="account-password-meter" />
			{askAdmin ? <Field label="Your admin password (to confirm)" type="password" value={cur} onInput={setCur} testid="account-current"
				autoComplete="current-password" required error={a.fieldError('current')} /> : null}
			<ErrorBox error={a.error && !a.error.field ? a.error : null} />
			<Buttons busy={a.busy} back={back} nextLabel="Create account"
				extra={count ? <button type="button" class="btn" onClick={onNext} data-testid="wizard-skip">Skip</button> : null} />
		</form>
	);
}

function RelayStep({ st, setSt, onNext, back }) {
	const r = st.relay || {};
	const [host, setHost] = useState(r.host || '');
	const [user, setUser] = useState(r.user || '');
	const [pw, setPw] = useState('');
	const [cur, setCur] = useState('');
	// A new relay host takes the admin password again (it receives all mail sent out).
	const askAdmin = !!st.admin_exists && !!host.trim() && host.trim() !== (r.host || '');
	const a = useAction();
	const submit = (e) => {
		e.preventDefault();
		if (r.locked)
			return onNext();
		a.run(async () => {
			const body = { host: host.trim() };
			if (askAdmin)
				body.current = cur;
			if (host.trim() && user.trim())
				body.user = user.trim();
			if (host.trim() && pw)
				body.password = pw;
			setSt(await put('/setup/relay', body));
			onNext();
		});
	};
	return (
		<form onSubmit={submit}>
			<StepTitle>Relay host (optional)</StepTitle>
			<p>
				Many home and cloud providers block outgoing port 25. Then tern must hand outgoing mail to your
				provider's SMTP server (a "smarthost"). Leave the host empty to deliver directly.
			</p>
			<Field label="Relay host and port" value={host} onInput={setHost} locked={r.locked} lockedBy="TERN_RELAY_HOST"
				testid="relay-host" placeholder="smtp.provider.net:587" error={a.fieldError('host')} />
			<Field label="User name" value={user} onInput={setUser} locked={r.locked} lockedBy="TERN_RELAY_USER"
				testid="relay-user" autoComplete="off" error={a.fieldError('user')} />
			<Field label="Password" type="password" value={pw} onInput={setPw} locked={r.locked} lockedBy="TERN_RELAY_PASSWORD"
				testid="relay-password" autoComplete="new-password"
				placeholder={r.password_set ? (r.locked ? '(set)' : '(unchanged)') : ''} error={a.fieldError('password')} />
			{askAdmin && !r.locked ? <Field label="Your admin password (to confirm)" type="password" value={cur} onInput={setCur} testid="relay-current"
				autoComplete="current-password" required error={a.fieldError('current')} /> : null}
			{st.restart_required ? <Notice kind="info">Relay settings take effect when tern restarts.</Notice> : null}
			<ErrorBox error={a.error && !a.error.field ? a.error : null} />
			<Buttons busy={a.busy} back={back} nextLabel={r.locked ? 'Continue' : host.trim() ? 'Save relay' : 'Continue without relay'} />
		</form>
	);
}

function DnsStep({ st, onDone, back }) {
	const domain = st.domain && st.domain.value;
	const [dns, setDns] = useState(null);
	const [checking, setChecking] = useState(false);
	const load = useAction();
	const check = useAction();
	const finish = useAction();

	const runCheck = () => {
		setChecking(true);
		check.run(async () => {
			try {
				setDns(await get('/setup/dns'));
			} finally {
				setChecking(false);
			}
		});
	};
	useEffect(() => {
		// The records first (fast) while the live check runs (up to 10 s).
		// Whichever answers last must not hide the check's verdicts.
		load.run(async () => {
			if (!domain)
				return;
			const plain = await get(`/domains/${seg(domain)}/dns`);
			setDns((cur) => cur || plain);
		});
		runCheck();
	}, []);

	const submit = (e) => {
		e.preventDefault();
		finish.run(async () => {
			await post('/setup/complete', {});
			onDone();
		});
	};
	return (
		<form onSubmit={submit}>
			<StepTitle>Publish these DNS records</StepTitle>
			<p>
				Add these records at your DNS provider for <strong>{domain}</strong>. The check looks them up now;
				new records can take a while to appear. You can finish now and check again later on the Domains page.
			</p>
			<div class="buttons left">
				<button type="button" class="btn" onClick={runCheck} disabled={checking} data-testid="dns-check">
					{checking ? 'Checking…' : 'Check again'}
				</button>
			</div>
			<ErrorBox error={load.error || check.error} />
			{dns ? <DnsRecords dns={dns} checking={checking} /> : load.busy || checking ? <p class="muted" aria-busy="true">Loading records…</p> : null}
			<ErrorBox error={finish.error} />
			<Buttons busy={finish.busy} back={back} nextLabel="Finish setup" />
		</form>
	);
}
