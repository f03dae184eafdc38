// tlsrpt.jsx - the TLS-RPT reports (RFC 8460) other senders mailed about a
// domain (GET /domains/{name}/tlsrpt-reports): how many of their TLS
// sessions to this server succeeded, and each kind of failure they saw
// (an expired certificate, no STARTTLS, ...), shown beside the DMARC
// reports.
import { useState } from 'preact/hooks';
import { get, seg } from './api.js';
import { ErrorBox, Loading, useLoad } from './components.jsx';
import { dateTime } from './format.js';

// What the DKIM check of the report's message found (RFC 8460 §3 asks
// reporters to sign): a report that did not pass may be forged.
function Signed({ x }) {
	if (x.dkim === 'pass') return <span class="badge badge-ok" title={`DKIM signature of ${x.dkim_domain} verified`}>DKIM {x.dkim_domain}</span>;
	if (x.dkim === 'fail') return <span class="badge badge-missing" title="signed, but no signature verified with a key for TLS reports">DKIM failed</span>;
	if (x.dkim === 'none') return <span class="badge badge-missing">unsigned</span>;
	return <span class="muted">not checked</span>;
}

export function TlsrptReports({ name }) {
	const [days, setDays] = useState(30);
	const rep = useLoad(() => get(`/domains/${seg(name)}/tlsrpt-reports?days=${days}`), [name, days]);
	const r = rep.data;
	const failures = [];
	if (r) {
		for (const x of r.reports) {
			for (const p of x.policies) {
				for (const f of p.failures) failures.push({ reporter: x.organization, start: x.start, policy: p, f });
			}
		}
	}
	return (
		<section class="card" data-testid="tlsrpt-reports">
			<h2>TLS reports</h2>
			<p class="muted">Daily reports that other mail servers send to the address in this domain's <code>_smtp._tls</code> record: whether their encrypted (TLS) connections to this server worked.</p>
			<div class="buttons left">
				<label>Period <select value={days} onChange={(e) => setDays(Number(e.target.value))} data-testid="tlsrpt-days">
					<option value={7}>7 days</option><option value={30}>30 days</option><option value={90}>90 days</option><option value={180}>180 days</option>
				</select></label>
			</div>
			<ErrorBox error={rep.error} />
			{!r ? (rep.loading ? <Loading /> : null) : (
				<>
					<p data-testid="tlsrpt-totals">{r.totals.reports} reports: <strong>{r.totals.successful}</strong> TLS sessions succeeded, <strong>{r.totals.failed}</strong> failed.</p>
					<div class="table-wrap">
						<table data-testid="tlsrpt-report-list">
							<thead><tr><th scope="col">Reporter</th><th scope="col">Period</th><th scope="col">Policy</th><th scope="col">Succeeded</th><th scope="col">Failed</th><th scope="col">Signed</th></tr></thead>
							<tbody>
								{r.reports.slice().reverse().map((x) => (
									<tr key={x.organization + x.report_id + x.start}>
										<td class="wrap">{x.organization}{x.contact ? <div class="muted">{x.contact}</div> : null}</td>
										<td>{dateTime(x.start)} – {dateTime(x.end)}</td>
										<td class="wrap">{x.policies.map((p) => <div key={p.type + p.domain}><code>{p.type}</code> {p.domain}</div>)}</td>
										<td>{x.successful}</td>
										<td>{x.failed ? <span class="badge badge-missing">{x.failed}</span> : 0}</td>
										<td data-testid="tlsrpt-dkim"><Signed x={x} /></td>
									</tr>
								))}
								{r.reports.length === 0 ? <tr><td colSpan={6} class="muted">No reports in this period.</td></tr> : null}
							</tbody>
						</table>
					</div>
					{failures.length ? (
						<>
							<h3>Failures</h3>
							<div class="table-wrap">
								<table data-testid="tlsrpt-failures">
									<thead><tr><th scope="col">Reporter</th><th scope="col">Day</th><th scope="col">Result</th><th scope="col">MX host</th><th scope="col">Sessions</th></tr></thead>
									<tbody>
										{failures.map((x, i) => (
											<tr key={i}>
												<td class="wrap">{x.reporter}</td><td>{dateTime(x.start)}</td>
												<td class="wrap"><code>{x.f.result}</code>{x.f.info ? <div class="muted">{x.f.info}</div> : null}</td>
												<td class="wrap">{x.f.mx || '–'}{x.f.ip ? <div class="muted"><code>{x.f.ip}</code></div> : null}</td>
												<td>{x.f.sessions}</td>
											</tr>
										))}
									</tbody>
								</table>
							</div>
						</>
					) : null}
				</>
			)}
		</section>
	);
}
