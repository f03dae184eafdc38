// dns.jsx - the DNS records a domain needs, with copy buttons and the live
// check's verdict per record (found / missing / different / error).
import { CopyButton } from './components.jsx';

const STATUS_TEXT = {
	found: 'Found',
	missing: 'Missing',
	different: 'Different',
	error: 'Lookup failed',
};

function Status({ check, checking }) {
	if (!check)
		return <span class="badge badge-none">{checking ? 'Checking…' : 'Not checked'}</span>;
	const st = check.status in STATUS_TEXT ? check.status : 'error';
	return (
		<>
			<span class={`badge badge-${st}`} data-testid="dns-status" data-status={st}>{STATUS_TEXT[st]}</span>
			{st === 'different' && check.found && check.found.length ? (
				<span class="found-values">Published now: <code>{check.found.join(' | ')}</code></span>
			) : null}
		</>
	);
}

export function DnsRecords({ dns, checking }) {
	if (!dns)
		return null;
	const records = dns.records || [];
	const checked = records.some((r) => r.check);
	const counts = { found: 0, missing: 0, different: 0, error: 0 };
	for (const r of records)
		if (r.check)
			counts[r.check.status in counts ? r.check.status : 'error']++;
	return (
		<div class="dns">
			{checked ? (
				<p role="status" data-testid="dns-summary">
					{counts.found} of {records.length} records found
					{counts.missing ? `, ${counts.missing} missing` : ''}
					{counts.different ? `, ${counts.different} different` : ''}
					{counts.error ? `, ${counts.error} could not be looked up` : ''}.
				</p>
			) : null}
			<div class="table-wrap">
				<table data-testid="dns-records">
					<caption class="offscreen">DNS records for {dns.domain}</caption>
					<thead>
						<tr><th scope="col">Type</th><th scope="col">Name</th><th scope="col">Value</th><th scope="col">Purpose</th><th scope="col">Status</th></tr>
					</thead>
					<tbody>
						{records.map((r, i) => (
							<tr key={i} data-testid="dns-record" data-type={r.type}>
								<td><code>{r.type}</code></td>
								<td class="dns-name"><code>{r.name}</code> <CopyButton text={r.name} label="Copy name" /></td>
								<td class="dns-value"><code>{r.value}</code> <CopyButton text={r.value} label="Copy value" testid="copy-value" /></td>
								<td>{r.purpose}</td>
								<td><Status check={r.check} checking={checking} /></td>
							</tr>
						))}
					</tbody>
				</table>
			</div>
			{dns.notes && dns.notes.length ? (
				<ul class="notes">
					{dns.notes.map((n, i) => <li key={i}>{n}</li>)}
				</ul>
			) : null}
		</div>
	);
}
