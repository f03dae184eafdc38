// settings.jsx - host name and relay (stored, applied at the next start),
// the DMARC reports' From address (read at each report run), inbound mail
// checks (DMARC exceptions, the postmaster account: applied to the next
// message), limits and listeners (environment, read-only), the TLS
// certificate, the admin password (locked while TERN_ADMIN_PASSWORD is
// set), two-factor sign-in for the admin, where the admin is signed in
// (sessions.jsx), the global Sieve filter (run
// before every account's own), and API tokens for scripts.
import { useEffect, useState } from 'preact/hooks';
import { del, get, post, put, seg } from '../api.js';
import { ConfirmButton, CopyButton, ErrorBox, Field, Loading, Notice, PageTitle, Pager, StrengthMeter, TextArea, useAction, useLoad, usePages } from '../components.jsx';
import { bytes, dateTime } from '../format.js';
import { TwoFactor } from '../twofactor.jsx';
import { Sessions } from '../sessions.jsx';

export function Settings() {
	const s = useLoad(() => get('/settings'));
	const d = s.data;
	return (
		<>
			<PageTitle>Settings</PageTitle>
			<ErrorBox error={s.error} />
			{s.loading && !d ? <Loading /> : null}
			{d ? (
				<>
					{d.restart_required ? <Notice kind="info">Some stored settings differ from the running ones: they take effect when tern restarts.</Notice> : null}
					{d.hostname_status && !d.hostname_status.fqdn ? <Notice kind="warn" testid="hostname-not-fqdn">The host name {d.hostname && d.hostname.value} is not fully qualified (such as mail.example.com): other servers refuse mail from a bare name. Set it below or with TERN_HOSTNAME.</Notice> : null}
					<ServerForm settings={d} onSaved={s.reload} />
					<AuthForm auth={d.auth || {}} onSaved={s.reload} />
					<AdminPassword />
					<TwoFactor base="/admin/totp" who="The admin" />
					<Sessions base="" admin />
					<GlobalFilter />
					<Certificate tls={d.tls} acme={d.acme} />
					<Limits limits={d.limits} listeners={d.listeners} />
				</>
			) : null}
			<Tokens />
		</>
	);
}

// The admin password: the current one, then the new one typed twice; PUT
// /admin/password (other admin sessions end, this one goes on). GET /setup
// says whether TERN_ADMIN_PASSWORD locks it.
function AdminPassword() {
	const st = useLoad(() => get('/setup'));
	const locked = !!(st.data && st.data.admin && st.data.admin.locked);
	const weak = !!(st.data && st.data.admin && st.data.admin.weak);
	const [cur, setCur] = useState('');
	const [pw, setPw] = useState('');
	const [pw2, setPw2] = useState('');
	const [done, setDone] = useState('');
	const a = useAction();
	// Typing clears the notice; the clearing after a change must not.
	const typed = (set) => (v) => { set(v); setDone(''); };
	const mismatch = pw2 && pw !== pw2 ? 'The two passwords differ.' : undefined;
	const submit = (e) => {
		e.preventDefault();
		if (mismatch || !pw || !cur)
			return;
		a.run(async () => {
			await put('/admin/password', { current: cur, password: pw });
			setCur('');
			setPw('');
			setPw2('');
			setDone('Admin password changed. Other admin sessions are signed out.');
		});
	};
	const fe = a.error && a.error.field === 'password' ? a.error.message : undefined;
	const fc = a.error && a.error.field === 'current' ? a.error.message : undefined;
	return (
		<form class="card" onSubmit={submit} data-testid="admin-password-form">
			<h2>Admin password</h2>
			{locked ? null : (
				<Field label="Current admin password" type="password" value={cur} onInput={typed(setCur)} autoComplete="current-password"
					error={fc} testid="admin-current-password" />
			)}
			<Field label="New admin password (8 to 256 characters, not easy to guess)" type="password" value={pw} onInput={typed(setPw)} locked={locked}
				lockedBy="TERN_ADMIN_PASSWORD" autoComplete="new-password" error={fe} testid="admin-new-password" />
			{locked ? null : <StrengthMeter password={pw} testid="admin-new-password-meter" />}
			{weak ? <Notice kind="warn" testid="admin-password-weak">TERN_ADMIN_PASSWORD is weaker than tern now asks of a new password (8 to 256 characters, not easy to guess). It still works; set a stronger one in the variable and restart.</Notice> : null}
			{locked ? null : (
				<>
					<Field label="The same again" type="password" value={pw2} onInput={typed(setPw2)} autoComplete="new-password"
						error={mismatch} testid="admin-new-password2" />
					<ErrorBox error={a.error && !fe && !fc ? a.error : null} />
					<Notice>{done}</Notice>
					<div class="buttons"><button class="btn btn-primary" type="submit" disabled={a.busy || !cur || !pw || !!mismatch} data-testid="admin-password-save">Change password</button></div>
				</>
			)}
		</form>
	);
}

// The administrator's global Sieve script (/sieve/global): its active one
// (else one named "global") in an editor; saving compiles, stores and
// activates it (the parser's error shows at the field), Turn off leaves it
// stored but inactive.
function GlobalFilter() {
	const [name, setName] = useState('global');
	const [text, setText] = useState('');
	const [active, setActive] = useState(false);
	const [password, setPassword] = useState('');
	const [done, setDone] = useState('');
	const a = useAction();
	const l = useLoad(async () => {
		const list = await get('/sieve/global');
		const on = (list.scripts || []).find((x) => x.active) || (list.scripts || [])[0];
		if (on) {
			const sc = await get('/sieve/global/' + seg(on.name));
			setName(sc.name);
			setText(sc.script);
			setActive(sc.active);
		}
		return list;
	});
	const save = (on) => (e) => {
		e.preventDefault();
		a.run(async () => {
			const body = on ? { script: text, active: true } : { active: false };
			if (on && password)
				body.password = password;
			const sc = await put('/sieve/global/' + seg(name), body);
			setActive(sc.active);
			setPassword('');
			setDone(on ? 'Global filter saved and active.' : 'Global filter turned off.');
		});
	};
	const fe = a.error && a.error.field === 'script' ? a.error.message : undefined;
	return (
		<form class="card" onSubmit={save(true)} data-testid="global-filter-form">
			<h2>Global filter (Sieve)</h2>
			<p class="hint">Runs before every account's own filter at delivery. When it decides (for example
				<code> fileinto "Junk";</code>), the account's filter does not run; otherwise the account's decides.
				{active ? ' Active.' : ' Not active.'}</p>
			<ErrorBox error={l.error} />
			<TextArea label={`Script "${name}"`} value={text} onInput={(v) => { setText(v); setDone(''); }} error={fe}
				testid="global-filter-script" rows="8" spellcheck={false} style="width: 100%; font-family: monospace" />
			{/* A redirect or notify sends mail out, which would outlive a
			    change of the admin password: the server asks for it then. */}
			<Field label="Admin password (when the script redirects or notifies)" type="password" value={password} onInput={setPassword}
				autoComplete="current-password" testid="global-filter-password"
				error={a.error && a.error.field === 'password' ? a.error.message : undefined} />
			<ErrorBox error={a.error && !fe && a.error.field !== 'password' ? a.error : null} />
			<Notice>{done}</Notice>
			<div class="buttons">
				<button class="btn btn-primary" type="submit" disabled={a.busy || !text.trim()} data-testid="global-filter-save">Save and activate</button>
				{active ? <button class="btn" type="button" onClick={save(false)} disabled={a.busy} data-testid="global-filter-off">Turn off</button> : null}
			</div>
		</form>
	);
}

function ServerForm({ settings, onSaved }) {
	const h = settings.hostname || {};
	const r = settings.relay || {};
	const [hostname, setHostname] = useState(h.value || '');
	const [relayHost, setRelayHost] = useState(r.host || '');
	const [relayUser, setRelayUser] = useState(r.user || '');
	const [relayPw, setRelayPw] = useState('');
	const [adminPw, setAdminPw] = useState('');
	// A new relay host gets every message sent out: the server asks the
	// admin password for it (api_setup.c api_store_relay).
	const newRelay = !r.locked && relayHost.trim() !== '' && relayHost.trim() !== (r.host || '');
	const dr = settings.dmarc_reports || {};
	const [reportFrom, setReportFrom] = useState(dr.from || '');
	const ms = settings.mta_sts || {};
	const [stsMode, setStsMode] = useState(ms.mode || 'testing');
	const [failReports, setFailReports] = useState(dr.failure_reports !== false);
	const [done, setDone] = useState('');
	const a = useAction();
	useEffect(() => setDone(''), [hostname, relayHost, relayUser, relayPw, reportFrom, stsMode]);
	const submit = (e) => {
		e.preventDefault();
		const body = {};
		if (!h.locked && hostname.trim() !== (h.value || ''))
			body.hostname = hostname.trim();
		if (!r.locked) {
			if (relayHost.trim() !== (r.host || ''))
				body.relay_host = relayHost.trim();
			if (relayUser.trim() !== (r.user || ''))
				body.relay_user = relayUser.trim();
			if (relayPw)
				body.relay_password = relayPw;
			if (newRelay)
				body.password = adminPw;
		}
		if (!dr.locked && reportFrom.trim() !== (dr.from || ''))
			body.dmarc_report_from = reportFrom.trim();
		if (failReports !== (dr.failure_reports !== false))
			body.dmarc_failure_reports = failReports;
		if (!ms.locked && stsMode !== (ms.mode || 'testing'))
			body.mta_sts_mode = stsMode;
		a.run(async () => {
			await put('/settings', body);
			setRelayPw('');
			onSaved();
			setAdminPw('');
			setDone(body.hostname && Object.keys(body).length === 1
				? 'Saved. The host name is in use now; the TLS certificate takes it when tern restarts.'
				: 'Saved. The host name is in use now; the relay and the certificate take the changes when tern restarts.');
		});
	};
	return (
		<form class="card" onSubmit={submit} data-testid="settings-form">
			<h2>Server</h2>
			<Field label="Host name" value={hostname} onInput={setHostname} locked={h.locked} lockedBy="TERN_HOSTNAME"
				hint={h.running && h.running !== h.value ? `Running as ${h.running} until the next start.` : undefined} error={a.fieldError('hostname')} testid="settings-hostname" />
			<p>Primary domain: <strong>{settings.domain && settings.domain.value}</strong>{settings.domain && settings.domain.locked ? ' (set by TERN_DOMAIN)' : ''}</p>
			<h3>Relay host</h3>
			<Field label="Relay host and port (empty: deliver directly)" value={relayHost} onInput={setRelayHost} locked={r.locked}
				lockedBy="TERN_RELAY_HOST" placeholder="smtp.provider.net:587" error={a.fieldError('relay_host')} testid="settings-relay-host" />
			<Field label="Relay user name" value={relayUser} onInput={setRelayUser} locked={r.locked} lockedBy="TERN_RELAY_USER" error={a.fieldError('relay_user')} />
			<Field label="Relay password" type="password" value={relayPw} onInput={setRelayPw} locked={r.locked} lockedBy="TERN_RELAY_PASSWORD"
				placeholder={r.password_set ? '(set; leave empty to keep)' : ''} autoComplete="new-password" error={a.fieldError('relay_password')} />
			{newRelay ? (
				<Field label="Admin password (to change the relay host)" type="password" value={adminPw} onInput={setAdminPw} required
					autoComplete="current-password" error={a.fieldError('password')} testid="settings-admin-password" />
			) : null}
			<h3>DMARC and TLS reports</h3>
			<Field label="Send daily DMARC and TLS-RPT reports from (empty: the default; off: send none)" value={reportFrom} onInput={setReportFrom}
				locked={dr.locked} lockedBy="TERN_DMARC_REPORT_FROM" placeholder={dr.effective || 'postmaster@example.com'}
				hint={dr.effective ? `Reports go out from ${dr.effective}, signed with its domain's DKIM keys.` : 'No reports are sent.'}
				error={a.fieldError('dmarc_report_from')} testid="settings-dmarc-from" />
			<label class="checkbox"><input type="checkbox" checked={failReports} onChange={(e) => setFailReports(e.currentTarget.checked)}
				data-testid="settings-dmarc-failure" /> Send DMARC failure reports (ruf=; the failing message's header only, at most one per sender address and domain an hour)</label>
			<h3>MTA-STS policy</h3>
			<div class="field">
				<label>Mode of the policy senders fetch from mta-sts.&lt;domain&gt;{ms.locked ? ' (set by TERN_MTA_STS_MODE)' : ''}{' '}
					<select value={stsMode} disabled={ms.locked} onChange={(e) => setStsMode(e.currentTarget.value)} data-testid="settings-mta-sts-mode">
						<option value="testing">testing: senders report problems, mail still arrives</option>
						<option value="enforce">enforce: senders hold mail unless TLS to this server is valid</option>
					</select>
				</label>
				<p class="hint">Enforce only with a certificate other servers trust (ACME or your own): with a self-signed one, senders that honour MTA-STS hold your mail.</p>
			</div>
			<ErrorBox error={a.error && !a.error.field ? a.error : null} />
			<Notice>{done}</Notice>
			<div class="buttons"><button class="btn btn-primary" type="submit" disabled={a.busy}>Save</button></div>
		</form>
	);
}

// One domain a line (or separated by commas or spaces) <-> a list.
const lines = (list) => (list || []).join('\n');
const domains = (text) => text.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);

function AuthForm({ auth, onSaved }) {
	const [tolerated, setTolerated] = useState(lines(auth.dmarc_tolerated));
	const [trusted, setTrusted] = useState(lines(auth.arc_trusted));
	const [postmaster, setPostmaster] = useState(auth.postmaster || '');
	const [done, setDone] = useState('');
	const a = useAction();
	useEffect(() => setDone(''), [tolerated, trusted, postmaster]);
	const submit = (e) => {
		e.preventDefault();
		const body = { dmarc_tolerated: domains(tolerated), arc_trusted: domains(trusted) };
		if (postmaster.trim() && postmaster.trim() !== (auth.postmaster || ''))
			body.postmaster = postmaster.trim();
		a.run(async () => {
			await put('/settings', body);
			onSaved();
			setDone('Saved. Applies to the next message.');
		});
	};
	return (
		<form class="card" onSubmit={submit} data-testid="auth-form">
			<h2>Inbound mail checks</h2>
			<p class="muted">Port 25 checks SPF, DKIM and DMARC: mail failing a sender's <code>p=reject</code> is refused,
				<code>p=quarantine</code> goes to Junk, and mail claiming one of your domains without passing is refused.</p>
			<TextArea label="Tolerated sending domains (one a line): DMARC failures accepted anyway" value={tolerated}
				onInput={setTolerated} error={a.fieldError('dmarc_tolerated')} testid="auth-tolerated" placeholder="lists.example.org" />
			<TextArea label="Trusted ARC sealers (one a line): their ARC seal showing DMARC pass overrides a local failure" value={trusted}
				onInput={setTrusted} error={a.fieldError('arc_trusted')} testid="auth-arc-trusted" />
			<Field label="Postmaster account (gets postmaster@ mail for every domain)" value={postmaster} onInput={setPostmaster}
				error={a.fieldError('postmaster')} testid="auth-postmaster" placeholder="admin@example.com" />
			<ErrorBox error={a.error && !a.error.field ? a.error : null} />
			<Notice>{done}</Notice>
			<div class="buttons"><button class="btn btn-primary" type="submit" disabled={a.busy} data-testid="auth-save">Save</button></div>
		</form>
	);
}

const ACME_STATES = {
	off: 'off',
	starting: 'starting',
	ordering: 'asking the CA for a certificate',
	idle: 'certificate in use',
	failed: 'last attempt failed',
};

// "12 days left", "expires today", or once it has passed "expired 3 days
// ago" (not "-3 days left").
function daysLeft(tls) {
	const ago = Math.floor((Date.now() / 1000 - tls.not_after) / 86400);
	if (ago >= 0)
		return ago === 0 ? 'expired today' : ago === 1 ? 'expired 1 day ago' : `expired ${ago} days ago`;
	const d = tls.days_left;
	return d <= 0 ? 'expires today' : d === 1 ? '1 day left' : `${d} days left`;
}

function Certificate({ tls, acme }) {
	if (!tls)
		return null;
	const soon = tls.days_left !== undefined && tls.days_left < 14;
	const a = acme || {};
	return (
		<section class="card" data-testid="certificate">
			<h2>TLS certificate</h2>
			{tls.self_signed && (
				<p class="error-text" data-testid="self-signed-warning">
					This certificate is self-signed: mail clients will warn about it and other servers cannot verify it.
					Set TERN_ACME_EMAIL to get one from Let's Encrypt, or TERN_TLS_CERT and TERN_TLS_KEY to use your own.
				</p>
			)}
			<dl class="pairs">
				<dt>Subject</dt><dd>{tls.subject}</dd>
				<dt>Names</dt><dd>{tls.names || '(none)'}</dd>
				<dt>Issuer</dt><dd>{tls.issuer}{tls.self_signed ? ' (self-signed)' : ''}</dd>
				<dt>Key</dt><dd>{tls.key}</dd>
				<dt>Source</dt><dd>{tls.source}</dd>
				<dt>Chain length</dt><dd>{tls.chain}</dd>
				<dt>Valid from</dt><dd>{dateTime(tls.not_before)}</dd>
				<dt>Expires</dt><dd class={soon ? 'error-text' : ''} data-testid="certificate-expires">{dateTime(tls.not_after)} ({daysLeft(tls)})</dd>
			</dl>
			<h3>ACME</h3>
			<dl class="pairs" data-testid="acme">
				<dt>State</dt><dd>{ACME_STATES[a.state] || a.state || 'off'}</dd>
				{a.enabled && [
					<dt key="d">Directory</dt>, <dd key="dv">{a.directory}</dd>,
					<dt key="c">Challenge</dt>, <dd key="cv">{a.challenge}</dd>,
					<dt key="n">{a.state === 'failed' ? 'Next attempt' : 'Renewal'}</dt>,
					<dd key="nv">{a.next_run ? dateTime(a.next_run) : '-'}</dd>,
				]}
				{a.last_error && [<dt key="e">Last error</dt>, <dd key="ev" class="error-text">{a.last_error}</dd>]}
			</dl>
		</section>
	);
}

// Seconds as the largest whole unit (TERN_SMTP_FUTURERELEASE_MAX is
// written 30d, 12h or seconds); 0 is the extension turned off.
function holdTime(v) {
	if (!v)
		return 'off';
	if (v % 86400 === 0)
		return `${v / 86400} days`;
	if (v % 3600 === 0)
		return `${v / 3600} hours`;
	return `${v} seconds`;
}

// TERN_TRASH_RETENTION_DAYS / TERN_JUNK_RETENTION_DAYS: 0 keeps mail for ever.
function retentionDays(v) {
	if (!v)
		return 'for ever';
	return v === 1 ? '1 day' : `${v} days`;
}

// TERN_QUEUE_IP_STRATEGY's value in words.
function ipStrategy(v) {
	return {
		ipv4_then_ipv6: 'IPv4 and IPv6, IPv4 first',
		ipv6_then_ipv4: 'IPv6 and IPv4, IPv6 first',
		ipv4_only: 'IPv4 only',
		ipv6_only: 'IPv6 only',
	}[v] || v;
}

// Each limit's label and, when not a plain count, how its value reads.
const LIMIT_LABELS = {
	max_message_size: ['Largest message', bytes],
	smtp_max_connections: ['SMTP connections', null],
	smtp_max_connections_per_ip: ['SMTP connections per IP', null],
	smtp_max_recipients: ['Recipients per message', null],
	smtp_futurerelease_max: ['Longest future release', holdTime],
	trash_retention_days: ['Trash kept', retentionDays],
	junk_retention_days: ['Junk kept', retentionDays],
	queue_ip_strategy: ['Outbound IP', ipStrategy],
};

function Limits({ limits, listeners }) {
	return (
		<section class="card">
			<h2>Limits and listeners</h2>
			<p class="muted">Set by environment variables (see the README); shown here read-only.</p>
			<dl class="pairs">
				{Object.entries(limits || {}).map(([k, v]) => {
					const [label, show] = LIMIT_LABELS[k] || [k, null];
					return [<dt key={k}>{label}</dt>, <dd key={k + 'v'}>{show ? show(v) : v}</dd>];
				})}
			</dl>
			<dl class="pairs">
				{Object.entries(listeners || {}).map(([k, v]) => [<dt key={k}>{k.toUpperCase()}</dt>, <dd key={k + 'v'}>{v ? `port ${v}` : 'off'}</dd>])}
			</dl>
		</section>
	);
}

// A new token asks for the admin password: it outlives a change of the
// password and every session, so the API refuses a session alone
// (api_system.c).
function Tokens() {
	// A page of 100 at a time, as the other lists: one unpaged GET stopped
	// at the first 1,000.
	const pages = usePages('/tokens');
	const list = pages.list;
	const [name, setName] = useState('');
	const [password, setPassword] = useState('');
	const [readOnly, setReadOnly] = useState(false);
	const [days, setDays] = useState('');
	const [made, setMade] = useState(null);
	const a = useAction();
	const submit = (e) => {
		e.preventDefault();
		a.run(async () => {
			const body = { name: name.trim(), scope: readOnly ? 'read' : 'admin', password };
			const d = parseInt(days, 10);
			if (d > 0)
				body.expires = Math.floor(Date.now() / 1000) + d * 86400;
			setMade(await post('/tokens', body));
			setName('');
			setPassword('');
			setDays('');
			setReadOnly(false);
			list.reload();
		});
	};
	const now = Date.now() / 1000;
	// Its own action: a revoke's wrong password is said over the list,
	// not under the new token's password field.
	const r = useAction();
	const drop = (id, password) => r.run(async () => { await del(`/tokens/${seg(id)}`, { password }); list.reload(); });
	const tokens = (list.data && list.data.tokens) || [];
	return (
		<section class="card">
			<h2>API tokens</h2>
			<p>For scripts: send <code>Authorization: Bearer &lt;token&gt;</code> to <code>/api/v1</code> or <code>/metrics</code>. A read-only token can read but change nothing.</p>
			<ErrorBox error={list.error || r.error} />
			{tokens.length || pages.page ? (
				<div class="table-wrap">
					<table>
						<thead><tr><th scope="col">Name</th><th scope="col">ID</th><th scope="col">Scope</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col"><span class="offscreen">Actions</span></th></tr></thead>
						<tbody>
							{tokens.map((t) => (
								<tr key={t.id} data-testid="token-row" data-name={t.name}><td>{t.name}</td><td><code>{t.id}</code></td>
									<td data-testid="token-scope">{t.scope === 'read' ? 'read only' : 'admin'}</td><td>{dateTime(t.created)}</td>
									<td data-testid="token-expires">{t.expires ? (t.expires <= now ? <span class="error-text">expired {dateTime(t.expires)}</span> : dateTime(t.expires)) : 'never'}</td>
									<td class="actions"><ConfirmButton label="Revoke" confirm="Revoke {name}?" name={t.name} password onConfirm={(pw) => drop(t.id, pw)} testid="token-revoke" /></td></tr>
							))}
						</tbody>
					</table>
					<Pager p={pages} shown={tokens.length} noun="token" testid="tokens" />
				</div>
			) : list.data ? <p class="muted">No tokens.</p> : null}
			{made ? (
				<div class="alert alert-ok" role="status">
					Token <strong>{made.name}</strong>: <code class="long">{made.token}</code> <CopyButton text={made.token} />
					<br />Copy it now: it is not shown again.
				</div>
			) : null}
			<form class="inline-form" onSubmit={submit}>
				<Field label="New token name" value={name} onInput={setName} required maxLength={64} placeholder="backup" testid="token-name"
					error={a.fieldError('name')} />
				<Field label="Expires after (days, empty: never)" type="number" min="1" value={days} onInput={setDays} placeholder="90" testid="token-days"
					error={a.fieldError('expires')} />
				<div class="field checkbox">
					<input type="checkbox" id="token-read" data-testid="token-read" checked={readOnly} onChange={(e) => setReadOnly(e.currentTarget.checked)} />
					<label for="token-read">Read only (monitoring)</label>
				</div>
				<Field label="Admin password" type="password" value={password} onInput={setPassword} autoComplete="current-password"
					required testid="token-password" error={a.fieldError('password')} />
				<ErrorBox error={a.other('name', 'expires', 'password')} />
				<button class="btn" type="submit" disabled={a.busy} data-testid="token-add">Create token</button>
			</form>
		</section>
	);
}
