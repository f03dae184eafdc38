// aliases.jsx - aliases and catch-alls (an alias "@domain" catches every
// address of the domain that has no account or alias of its own). A
// target outside our domains is forwarded there (README "Forwarding").
import { useState } from 'preact/hooks';
import { del, getAll, post, seg } from '../api.js';
import { ConfirmButton, ErrorBox, Field, Loading, Notice, PageTitle, Pager, useAction, useLoad, usePages } from '../components.jsx';

export function Aliases() {
	const pages = usePages('/aliases');
	const list = pages.list;
	// Our domains: a target elsewhere is forwarded (SRS, ARC), and says so.
	// All of them, page after page: a target at the 1,001st is ours too.
	const domains = useLoad(() => getAll('/domains', 'domains'));
	const ours = new Set((domains.data || []).map((d) => d.name));
	const outside = (t) => domains.data && !ours.has(t.slice(t.lastIndexOf('@') + 1));
	const [alias, setAlias] = useState('');
	const [target, setTarget] = useState('');
	const [catchAll, setCatchAll] = useState(false);
	const [password, setPassword] = useState('');
	const [done, setDone] = useState('');
	const add = useAction();
	const remove = useAction();
	const aliases = (list.data && list.data.aliases) || [];
	// Forwarding out outlives a change of the admin password: the server
	// asks for it then (api_accounts.c).
	const askPw = target.includes('@') && outside(target.trim().toLowerCase());
	const pwError = add.error && add.error.field === 'password' ? add.error.message : undefined;

	const submit = (e) => {
		e.preventDefault();
		setDone('');
		let a = alias.trim().toLowerCase();
		if (catchAll)
			a = '@' + a.replace(/^.*@/, '');
		add.run(async () => {
			const body = { alias: a, target: target.trim().toLowerCase() };
			if (password)
				body.password = password;
			await post('/aliases', body);
			setDone(`${a} now delivers to ${target.trim()}.`);
			setAlias('');
			setTarget('');
			setPassword('');
			list.reload();
		});
	};
	const drop = (a, t, password) => remove.run(async () => {
		await del(`/aliases/${seg(a)}` + (t ? `?target=${encodeURIComponent(t)}` : ''), { password });
		list.reload();
	});
	return (
		<>
			<PageTitle>Aliases</PageTitle>
			<ErrorBox error={list.error || remove.error} />
			{list.loading && !list.data ? <Loading /> : null}
			{list.data ? (
				<div class="table-wrap">
					<table data-testid="aliases-table">
						<thead><tr><th scope="col">Alias</th><th scope="col">Delivers to</th><th scope="col"><span class="offscreen">Actions</span></th></tr></thead>
						<tbody>
							{aliases.map((a) => (
								<tr key={a.alias} data-testid="alias-row">
									<td>{a.catch_all ? <>Everything at <strong>{a.alias.slice(1)}</strong> <span class="badge badge-info">catch-all</span></> : a.alias}</td>
									<td>
										<ul class="plain">
											{(a.targets || []).map((t) => (
												<li key={t}>{t} {outside(t) ? <span class="badge badge-info" data-testid="alias-forwarded">forwarded</span> : null} {a.targets.length > 1 ? <ConfirmButton label="Remove" confirm="Stop delivering to {name}?" name={t} password onConfirm={(pw) => drop(a.alias, t, pw)} /> : null}</li>
											))}
										</ul>
									</td>
									<td class="actions"><ConfirmButton label="Delete" confirm="Delete {name}?" name={a.alias} password onConfirm={(pw) => drop(a.alias, null, pw)} testid="alias-delete" /></td>
								</tr>
							))}
							{aliases.length === 0 ? <tr><td colSpan={3} class="muted">No aliases yet.</td></tr> : null}
						</tbody>
					</table>
					<Pager p={pages} shown={aliases.length} noun="alias" nouns="aliases" testid="aliases" />
				</div>
			) : null}
			<form class="card inline-form" onSubmit={submit}>
				<h2>Add an alias</h2>
				<div class="field checkbox">
					<input type="checkbox" id="catch-all" checked={catchAll} onChange={(e) => setCatchAll(e.currentTarget.checked)} />
					<label for="catch-all">Catch-all for a whole domain</label>
				</div>
				<Field label={catchAll ? 'Domain' : 'Alias address'} value={alias} onInput={setAlias} required
					placeholder={catchAll ? 'example.com' : 'info@example.com'} testid="alias-address" />
				<Field label="Deliver to" type="email" value={target} onInput={setTarget} required placeholder="you@example.com" testid="alias-target"
					hint="An account here or any external address (forwarded, with the sender rewritten by SRS so the other server's SPF check passes). Add the alias again with another target to deliver to several." />
				{askPw ? (
					<Field label="Admin password (the target is outside this server)" type="password" value={password} onInput={setPassword}
						required autoComplete="current-password" testid="alias-password" error={pwError} />
				) : null}
				<ErrorBox error={askPw && pwError ? null
					: add.error && add.error.status === 404 ? 'The alias must be at one of this server\'s domains.' : add.error} />
				<Notice>{done}</Notice>
				<div class="buttons"><button class="btn btn-primary" type="submit" disabled={add.busy} data-testid="alias-add">Add alias</button></div>
			</form>
		</>
	);
}
