// domains.jsx - mail domains: list, add, remove; per domain its DNS
// records with a live check, its DKIM keys (and the import of one made
// elsewhere) and the DMARC reports received.
import { useState } from 'preact/hooks';
import { del, get, post, seg } from '../api.js';
import { ConfirmButton, CopyButton, ErrorBox, Field, Loading, Notice, PageTitle, Pager, TextArea, useAction, useLoad, usePages } from '../components.jsx';
import { DnsRecords } from '../dns.jsx';
import { DmarcReports } from '../dmarc.jsx';
import { TlsrptReports } from '../tlsrpt.jsx';
import { Link } from '../router.jsx';
import { dateTime } from '../format.js';

export function Domains() {
	const pages = usePages('/domains');
	const list = pages.list;
	const [name, setName] = useState('');
	const [blocked, setBlocked] = useState(null);
	const add = useAction();
	const remove = useAction();
	const submit = (e) => {
		e.preventDefault();
		add.run(async () => {
			await post('/domains', { name: name.trim().toLowerCase() });
			setName('');
			list.reload();
		});
	};
	// Like every removal, asks for the admin password again.
	const drop = (n, password) => remove.run(async () => {
		await del(`/domains/${seg(n)}`, { password });
		list.reload();
	});
	const domains = (list.data && list.data.domains) || [];
	return (
		<>
			<PageTitle>Domains</PageTitle>
			<ErrorBox error={list.error || remove.error} />
			{list.loading && !list.data ? <Loading /> : null}
			{list.data ? (
				<div class="table-wrap">
					<table data-testid="domains-table">
						<thead><tr><th scope="col">Domain</th><th scope="col">Accounts</th><th scope="col">Aliases</th><th scope="col">DKIM selectors</th><th scope="col"><span class="offscreen">Actions</span></th></tr></thead>
						<tbody>
							{domains.map((d) => (
								<tr key={d.name} data-testid="domain-row">
									<td><Link href={`/domains/${seg(d.name)}`}>{d.name}</Link>{d.primary ? <span class="badge badge-info">primary</span> : null}</td>
									<td>{d.accounts}</td>
									<td>{d.aliases}</td>
									<td>{(d.dkim || []).join(', ')}</td>
									<td class="actions">
										<Link class="btn btn-small" href={`/domains/${seg(d.name)}`}>DNS &amp; DKIM</Link>
										{d.primary ? null : d.accounts > 0 ? (
											// Refused at once: asking first and then refusing wasted a click and a scare.
											<button type="button" class="btn btn-small" data-testid="domain-remove-refused"
												onClick={() => setBlocked(d.name)}>Remove</button>
										) : <ConfirmButton label="Remove" confirm="Remove {name}?" name={d.name} password onConfirm={(pw) => drop(d.name, pw)} testid="domain-remove" />}
										{blocked === d.name ? <p class="hint error-text" role="alert">{d.name} still has {d.accounts} account{d.accounts === 1 ? '' : 's'}: delete or move {d.accounts === 1 ? 'it' : 'them'} first.</p> : null}
									</td>
								</tr>
							))}
							{domains.length === 0 ? <tr><td colSpan={5} class="muted">No domains yet.</td></tr> : null}
						</tbody>
					</table>
					<Pager p={pages} shown={domains.length} noun="domain" testid="domains" />
				</div>
			) : null}
			<form class="card inline-form" onSubmit={submit}>
				<h2>Add a domain</h2>
				<Field label="Domain name" value={name} onInput={setName} placeholder="example.org" required testid="domain-name"
					error={add.fieldError('name')} />
				<ErrorBox error={add.other('name')} />
				<div class="buttons"><button class="btn btn-primary" type="submit" disabled={add.busy} data-testid="domain-add">Add domain</button></div>
			</form>
		</>
	);
}

export function DomainDetail({ name }) {
	const dns = useLoad(() => get(`/domains/${seg(name)}/dns`), [name]);
	const dkim = useLoad(() => get(`/domains/${seg(name)}/dkim`), [name]);
	const [checked, setChecked] = useState(null);
	const check = useAction();
	const runCheck = () => check.run(async () => setChecked(await get(`/domains/${seg(name)}/dns/check`)));
	const shown = checked || dns.data;
	return (
		<>
			<p class="crumbs"><Link href="/domains">Domains</Link> /</p>
			<PageTitle>{name}</PageTitle>
			<section class="card">
				<h2>DNS records</h2>
				<div class="buttons left">
					<button class="btn" onClick={runCheck} disabled={check.busy} data-testid="dns-check">{check.busy ? 'Checking…' : 'Check DNS now'}</button>
				</div>
				<ErrorBox error={dns.error || check.error} />
				{shown ? <DnsRecords dns={shown} checking={check.busy} /> : dns.loading ? <Loading /> : null}
			</section>
			<section class="card">
				<h2>DKIM keys</h2>
				<ErrorBox error={dkim.error} />
				{dkim.data ? (
					<div class="table-wrap">
						<table data-testid="dkim-table">
							<thead><tr><th scope="col">Selector</th><th scope="col">Algorithm</th><th scope="col">Created</th><th scope="col">Record</th></tr></thead>
							<tbody>
								{(dkim.data.keys || []).map((k) => (
									<tr key={k.selector}>
										<td><code>{k.selector}</code></td>
										<td>{k.algorithm}</td>
										<td>{dateTime(k.created)}</td>
										<td class="dns-value"><code>{k.record_name}</code> <CopyButton text={k.record_name} label="Copy name" /><br />
											<code class="long">{k.record_value}</code> <CopyButton text={k.record_value} label="Copy value" /></td>
									</tr>
								))}
							</tbody>
						</table>
					</div>
				) : dkim.loading ? <Loading /> : null}
				<p class="muted">Outgoing mail is signed with both keys; publish both records (they are among the DNS records above).</p>
			</section>
			<DkimImport name={name} onDone={() => { dkim.reload(); dns.reload(); }} />
			<DmarcReports name={name} />
			<TlsrptReports name={name} />
		</>
	);
}

// A DKIM private key made elsewhere (OpenDKIM, rspamd, Stalwart), kept
// under the selector its DNS record already has: it replaces the domain's
// key of its algorithm (POST .../dkim/import). The key is cleared from the
// form once taken; the answer holds only the public record.
function DkimImport({ name, onDone }) {
	const [selector, setSelector] = useState('');
	const [key, setKey] = useState('');
	const [done, setDone] = useState(null);
	const act = useAction();
	const submit = (e) => {
		e.preventDefault();
		setDone(null);
		act.run(async () => {
			const r = await post(`/domains/${seg(name)}/dkim/import`, { selector: selector.trim(), key });
			setKey('');
			setDone(r);
			onDone();
		});
	};
	return (
		<form class="card" onSubmit={submit} data-testid="dkim-import">
			<h2>Import a DKIM key</h2>
			<p class="muted">Moving from another server? Paste its DKIM private key (PEM: RSA of 1024 to 4096 bits or Ed25519, or an Ed25519 key in base64) and the selector its DNS record has: it replaces this domain's key of the same kind and signs from the next message.</p>
			<Field label="Selector" value={selector} onInput={setSelector} placeholder="mail" required testid="dkim-import-selector"
				error={act.fieldError('selector')} />
			<TextArea label="Private key" value={key} onInput={setKey} rows={6} required spellcheck={false} autocomplete="off"
				testid="dkim-import-key" error={act.fieldError('key')} />
			<ErrorBox error={act.other('selector', 'key')} />
			<Notice testid="dkim-import-done">{done ? `Imported: ${done.selector} (${done.algorithm}) signs from now on. Its record, ${done.record_name}, should be the one already published.` : null}</Notice>
			{done && done.warning ? <p class="alert alert-warn" data-testid="dkim-import-warning">{done.warning}</p> : null}
			<div class="buttons"><button class="btn btn-primary" type="submit" disabled={act.busy} data-testid="dkim-import-submit">Import key</button></div>
		</form>
	);
}
