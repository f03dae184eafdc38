// accounts.jsx - mail accounts: add, state (active / cannot sign in /
// inactive), display name, delete, password reset, quota and usage, the
// aliases that point at each, and on each account's panel its app
// passwords and JMAP tokens (listed, made and shown once, revoked) and
// whether its mail is stored encrypted (and turning that off). What gives
// a lasting way in (a new account, a password, an app password or token)
// asks for the admin password: the API refuses a session alone.
import { useState } from 'preact/hooks';
import { del, get, patch, post, seg } from '../api.js';
import { ConfirmButton, ErrorBox, Field, Loading, Notice, PageTitle, Pager, StrengthMeter, useAction, useLoad, usePages } from '../components.jsx';
import { Link } from '../router.jsx';
import { bytes } from '../format.js';
import { ImportPanel, MigratePanel } from './migrate.jsx';
import { AppPasswords, EncryptionOn } from '../portal.jsx';

const MIB = 1024 * 1024;

// The API's states and what each means to the admin.
const STATES = [
	['active', 'Active', 'signs in, receives mail'],
	['cannot_sign_in', 'Cannot sign in', 'mail still arrives'],
	['inactive', 'Inactive', 'no sign-in, mail refused (550 5.2.1)'],
];

function StateBadge({ state }) {
	const s = STATES.find((x) => x[0] === state) || STATES[0];
	return <span class={'badge ' + (s[0] === 'active' ? 'badge-found' : 'badge-missing')} data-testid="account-state">{s[1].toLowerCase()}</span>;
}

function Usage({ used, quota }) {
	if (!quota)
		return <span>{bytes(used)} <span class="muted">(no limit)</span></span>;
	const pct = Math.min(100, Math.round((used / quota) * 100));
	// Full: port 25 refuses its mail (452 4.2.2) until the owner makes room.
	// Over is possible: mail to an alias with several targets and local
	// copies of submitted mail are let through a little past the limit.
	const over = used >= quota;
	return (
		<span class={over ? 'usage usage-over' : 'usage'} data-testid="usage" data-over={over ? 'true' : 'false'}>
			<meter min={0} max={quota} value={used} high={quota * 0.9} aria-label={`${pct}% of quota used`} />
			{bytes(used)} of {bytes(quota)}
			{over ? <strong class="usage-flag"> over quota</strong> : null}
		</span>
	);
}

// The aliases of an account in its row: the first few, then how many
// more (its panel lists them all). An account behind hundreds of aliases
// made its row as tall as pages of them.
const ROW_ALIASES = 5;
function AliasCell({ aliases }) {
	const all = aliases || [];
	if (!all.length)
		return <span class="muted">none</span>;
	const more = all.length - ROW_ALIASES;
	return <span data-testid="account-aliases">{all.slice(0, ROW_ALIASES).join(', ')}{more > 0 ? <span class="muted"> and {more} more</span> : null}</span>;
}

export function Accounts() {
	// A search (GET /accounts?q=) finds one of thousands without walking
	// the pages: the address or the display name holding what is typed.
	const [typed, setTyped] = useState('');
	const [q, setQ] = useState('');
	const pages = usePages('/accounts', undefined, q ? `&q=${encodeURIComponent(q)}` : '');
	const list = pages.list;
	const [open, setOpen] = useState(null);
	const rowAction = useAction();
	const accounts = (list.data && list.data.accounts) || [];

	const toggle = (a) => rowAction.run(async () => {
		await patch(`/accounts/${seg(a.email)}`, { disabled: !a.disabled });
		list.reload();
	});
	// The mail goes for good: the server asks for the admin password.
	const remove = (a, password) => rowAction.run(async () => {
		await del(`/accounts/${seg(a.email)}`, { password });
		if (open === a.email)
			setOpen(null);
		list.reload();
	});
	return (
		<>
			<PageTitle>Accounts</PageTitle>
			<form class="filters" role="search" onSubmit={(e) => { e.preventDefault(); setQ(typed.trim()); }}>
				<label>Find <input type="search" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} maxLength={320}
					placeholder="address or name" data-testid="accounts-search" /></label>
				<button class="btn" type="submit" disabled={list.loading}>Search</button>
				{q ? <button class="btn" type="button" onClick={() => { setTyped(''); setQ(''); }} data-testid="accounts-search-clear">Show all</button> : null}
			</form>
			<ErrorBox error={list.error || rowAction.error} />
			{list.loading && !list.data ? <Loading /> : null}
			{list.data ? (
				<div class="table-wrap">
					<table data-testid="accounts-table">
						<thead><tr><th scope="col">Address</th><th scope="col">Storage</th><th scope="col">Messages</th><th scope="col">Aliases</th><th scope="col">Status</th><th scope="col"><span class="offscreen">Actions</span></th></tr></thead>
						<tbody>
							{accounts.map((a) => [
								<tr key={a.email} data-testid="account-row" data-email={a.email}>
									<td class="wrap">{a.email}{a.display_name ? <div class="muted">{a.display_name}</div> : null}</td>
									<td><Usage used={a.used} quota={a.quota} /></td>
									<td>{a.emails}</td>
									<td><AliasCell aliases={a.aliases} /></td>
									<td><StateBadge state={a.state} /></td>
									<td class="actions">
										<button class="btn btn-small" aria-expanded={open === a.email ? 'true' : 'false'}
											onClick={() => setOpen(open === a.email ? null : a.email)} data-testid="account-edit">Manage</button>
										<button class="btn btn-small" onClick={() => toggle(a)} data-testid="account-toggle">{a.disabled ? 'Enable' : 'Disable'}</button>
										<ConfirmButton label="Delete" confirm="Delete {name} and all its mail?" name={a.email} password onConfirm={(pw) => remove(a, pw)} testid="account-delete" />
									</td>
								</tr>,
								open === a.email ? (
									<tr key={a.email + '/edit'} class="row-panel">
										<td colSpan={6}><AccountPanel account={a} onChange={list.reload} /></td>
									</tr>
								) : null,
							])}
							{accounts.length === 0 ? <tr><td colSpan={6} class="muted">{q ? `No account matches "${q}".` : 'No accounts yet.'}</td></tr> : null}
						</tbody>
					</table>
					<Pager p={pages} shown={accounts.length} noun={q ? 'account matches' : 'account'} nouns={q ? 'accounts match' : 'accounts'} testid="accounts" />
				</div>
			) : null}
			<AddAccount onAdded={list.reload} />
		</>
	);
}

function AddAccount({ onAdded }) {
	const [email, setEmail] = useState('');
	const [pw, setPw] = useState('');
	const [quota, setQuota] = useState('');
	const [current, setCurrent] = useState('');
	const [done, setDone] = useState('');
	const a = useAction();
	const submit = (e) => {
		e.preventDefault();
		setDone('');
		a.run(async () => {
			const body = { email: email.trim().toLowerCase(), password: pw, current };
			if (quota.trim())
				body.quota = Math.round(Number(quota) * MIB);
			const r = await post('/accounts', body);
			setDone(`Account ${r && r.email ? r.email : body.email} created.`);
			setEmail('');
			setPw('');
			setQuota('');
			setCurrent('');
			onAdded();
		});
	};
	return (
		<form class="card inline-form" onSubmit={submit} data-testid="account-add-form">
			<h2>Add an account</h2>
			<Field label="Email address" type="email" value={email} onInput={setEmail} required testid="new-account-email"
				autoComplete="off" error={a.error && a.error.field === 'email' ? a.error.message : undefined} />
			<Field label="Password" type="password" value={pw} onInput={setPw} required minLength={8} maxLength={256}
				testid="new-account-password" autoComplete="new-password"
				error={a.error && a.error.field === 'password' ? a.error.message : undefined} />
			<StrengthMeter password={pw} testid="new-account-password-meter" />
			<Field label="Quota in MiB (empty: no limit)" type="number" min={0} step="any" value={quota} onInput={setQuota}
				testid="new-account-quota" error={a.error && a.error.field === 'quota' ? a.error.message : undefined} />
			{/* A new account is a lasting way in: the server asks the admin
			    password of a session (api_accounts.c). */}
			<Field label="Admin password" type="password" value={current} onInput={setCurrent} required autoComplete="current-password"
				testid="new-account-current" error={a.error && a.error.field === 'current' ? a.error.message : undefined} />
			<ErrorBox error={a.error && !a.error.field ? (a.error.status === 404 ? 'That domain is not one of this server\'s domains.' : a.error) : null} />
			<Notice>{done}</Notice>
			<div class="buttons"><button class="btn btn-primary" type="submit" disabled={a.busy} data-testid="account-add">Add account</button></div>
		</form>
	);
}

// Encryption at rest is the user's to set (the portal, with their own
// key); the admin sees what key mail is sealed to, and may turn it off,
// for one who lost the private key and so cannot read new mail.
function EncryptionState({ email }) {
	const cur = useLoad(() => get(`/accounts/${seg(email)}/encryption`));
	const a = useAction();
	const off = (password) => a.run(async () => {
		await del(`/accounts/${seg(email)}/encryption`, { password });
		cur.reload();
	});
	if (!cur.data)
		return <section class="card"><h2>Encryption at rest</h2><ErrorBox error={cur.error} />{cur.error ? null : <Loading />}</section>;
	const st = cur.data;
	if (st.method === 'none')
		return (
			<section class="card" data-testid="account-encryption">
				<h2>Encryption at rest</h2>
				<p>Off: mail is stored as it arrives. Users turn it on with their own OpenPGP key or S/MIME certificate in their account page.</p>
			</section>
		);
	return (
		<section class="card" data-testid="account-encryption">
			<h2>Encryption at rest</h2>
			<EncryptionOn st={st} testid="account-encryption" />
			<ErrorBox error={a.error} />
			<ConfirmButton label="Turn encryption off" confirm="Store new mail for this account unencrypted?" password onConfirm={off} testid="account-encryption-off" />
		</section>
	);
}

function AccountPanel({ account, onChange }) {
	const [pw, setPw] = useState('');
	const [current, setCurrent] = useState('');
	const [quota, setQuota] = useState(account.quota ? String(+(account.quota / MIB).toFixed(2)) : '');
	const [msg, setMsg] = useState('');
	const [name, setName] = useState(account.display_name || '');
	const [state, setState] = useState(account.state || 'active');
	const pwAction = useAction();
	const qAction = useAction();
	const sAction = useAction();
	const saveProfile = (e) => {
		e.preventDefault();
		setMsg('');
		sAction.run(async () => {
			await patch(`/accounts/${seg(account.email)}`, { display_name: name.trim(), state });
			setMsg('Account saved.');
			onChange();
		});
	};
	const setPassword = (e) => {
		e.preventDefault();
		setMsg('');
		pwAction.run(async () => {
			await post(`/accounts/${seg(account.email)}/password`, { password: pw, current });
			setPw('');
			setCurrent('');
			setMsg('Password changed.');
		});
	};
	const setQuotaValue = (e) => {
		e.preventDefault();
		setMsg('');
		qAction.run(async () => {
			await patch(`/accounts/${seg(account.email)}`, { quota: quota.trim() ? Math.round(Number(quota) * MIB) : 0 });
			setMsg('Quota saved.');
			onChange();
		});
	};
	return (
		<div class="panel">
			<form onSubmit={saveProfile} class="inline-form" data-testid="account-profile">
				<Field label="Display name (shown to mail apps and in From)" value={name} onInput={setName} maxLength={128}
					testid="display-name" error={sAction.error && sAction.error.field === 'display_name' ? sAction.error.message : undefined} />
				<div class="field">
					<label for={`state-${account.email}`}>Status</label>
					<select id={`state-${account.email}`} value={state} onChange={(e) => setState(e.currentTarget.value)} data-testid="account-state-select">
						{STATES.map(([v, label, what]) => <option key={v} value={v}>{label}: {what}</option>)}
					</select>
				</div>
				<ErrorBox error={sAction.error && sAction.error.field !== 'display_name' ? sAction.error : null} />
				<button class="btn" type="submit" disabled={sAction.busy} data-testid="account-profile-save">Save</button>
			</form>
			<form onSubmit={setPassword} class="inline-form">
				<Field label={`New password for ${account.email}`} type="password" value={pw} onInput={setPw} required
					minLength={8} maxLength={256} autoComplete="new-password" testid="reset-password" error={pwAction.fieldError('password')} />
				<StrengthMeter password={pw} testid="reset-password-meter" />
				<Field label="Admin password" type="password" value={current} onInput={setCurrent} required autoComplete="current-password"
					testid="reset-password-current" error={pwAction.fieldError('current')} />
				<ErrorBox error={pwAction.other('password', 'current')} />
				<button class="btn" type="submit" disabled={pwAction.busy} data-testid="reset-password-submit">Set password</button>
			</form>
			<form onSubmit={setQuotaValue} class="inline-form">
				<Field label="Quota in MiB (empty: no limit)" type="number" min={0} step="any" value={quota} onInput={setQuota} testid="quota"
					error={qAction.fieldError('quota')} />
				<ErrorBox error={qAction.other('quota')} />
				<button class="btn" type="submit" disabled={qAction.busy}>Save quota</button>
			</form>
			<AppPasswords base={`/accounts/${seg(account.email)}`} admin />
			<AppPasswords kind="token" base={`/accounts/${seg(account.email)}`} admin />
			<EncryptionState email={account.email} />
			<MigratePanel email={account.email} />
			<ImportPanel email={account.email} />
			<Notice>{msg}</Notice>
			<p>
				Aliases pointing here: {(account.aliases || []).join(', ') || 'none'} (<Link href="/aliases">manage aliases</Link>).
				{' '}<a href={`/api/v1/accounts/${seg(account.email)}/mobileconfig`} download>Apple configuration profile</a>
			</p>
		</div>
	);
}
