// dmarc.jsx - the DMARC aggregate reports other receivers mailed for a
// domain (GET /domains/{name}/dmarc-reports): totals, messages per day
// passing and failing DMARC as a small SVG bar chart (with the numbers in
// a table for screen readers), the sending sources and the reports.
import { useState } from 'preact/hooks';
import { get, seg } from './api.js';
import { ErrorBox, Loading, useLoad } from './components.jsx';
import { dateTime } from './format.js';

const W = 480;
const H = 140;
const PAD_L = 32;
const PAD_B = 20;
const PAD_T = 8;

function dayLabel(secs) {
	const d = new Date(secs * 1000);
	return `${String(d.getUTCMonth() + 1).padStart(2, '0')}-${String(d.getUTCDate()).padStart(2, '0')}`;
}

// One stacked bar per day: pass at the bottom, fail on top.
export function DayChart({ days }) {
	const data = days || [];
	const max = Math.max(1, ...data.map((d) => d.pass + d.fail));
	const plotW = W - PAD_L - 4;
	const plotH = H - PAD_B - PAD_T;
	const slot = data.length ? plotW / data.length : plotW;
	const barW = Math.max(1, slot - 2);
	const h = (v) => (v / max) * plotH;
	const pass = data.reduce((n, d) => n + d.pass, 0);
	const fail = data.reduce((n, d) => n + d.fail, 0);
	const every = Math.max(1, Math.ceil(data.length / 8));
	return (
		<figure class="chart" data-testid="dmarc-chart">
			<svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`DMARC results per day over ${data.length} days: ${pass} passed, ${fail} failed`}>
				<line x1={PAD_L} y1={PAD_T + plotH} x2={W - 4} y2={PAD_T + plotH} class="axis" />
				<line x1={PAD_L} y1={PAD_T} x2={PAD_L} y2={PAD_T + plotH} class="axis" />
				<text x={PAD_L - 4} y={PAD_T + 8} class="tick" text-anchor="end">{max}</text>
				<text x={PAD_L - 4} y={PAD_T + plotH} class="tick" text-anchor="end">0</text>
				{data.map((d, i) => {
					const x = PAD_L + 1 + i * slot;
					const base = PAD_T + plotH;
					return (
						<g key={d.day}>
							<rect x={x} y={base - h(d.pass)} width={barW} height={h(d.pass)} class="bar-pass">
								<title>{`${dayLabel(d.day)}: ${d.pass} passed`}</title>
							</rect>
							<rect x={x} y={base - h(d.pass) - h(d.fail)} width={barW} height={h(d.fail)} class="bar-fail">
								<title>{`${dayLabel(d.day)}: ${d.fail} failed`}</title>
							</rect>
							{i % every === 0 ? <text x={x} y={H - 4} class="tick">{dayLabel(d.day)}</text> : null}
						</g>
					);
				})}
			</svg>
			<figcaption>
				<span class="key key-pass" aria-hidden="true" /> passed DMARC ({pass})
				<span class="key key-fail" aria-hidden="true" /> failed ({fail}) per day (UTC), last {data.length} days
			</figcaption>
			<table class="offscreen">
				<caption>DMARC results per day</caption>
				<thead><tr><th scope="col">Day</th><th scope="col">Passed</th><th scope="col">Failed</th></tr></thead>
				<tbody>
					{data.map((d) => <tr key={d.day}><td>{dayLabel(d.day)}</td><td>{d.pass}</td><td>{d.fail}</td></tr>)}
				</tbody>
			</table>
		</figure>
	);
}

export function DmarcReports({ name }) {
	const [days, setDays] = useState(30);
	const rep = useLoad(() => get(`/domains/${seg(name)}/dmarc-reports?days=${days}`), [name, days]);
	const r = rep.data;
	return (
		<section class="card" data-testid="dmarc-reports">
			<h2>DMARC reports</h2>
			<p class="muted">Daily reports that other mail servers send to the address in this domain's DMARC record: who sends mail as {name}, and whether it passes.</p>
			<div class="buttons left">
				<label>Period <select value={days} onChange={(e) => setDays(Number(e.target.value))} data-testid="dmarc-days">
					<option value={7}>7 days</option><option value={30}>30 days</option><option value={90}>90 days</option><option value={180}>180 days</option>
				</select></label>
			</div>
			<ErrorBox error={rep.error} />
			{!r ? (rep.loading ? <Loading /> : null) : (
				<>
					<p data-testid="dmarc-totals">{r.totals.reports} reports, {r.totals.messages} messages: <strong>{r.totals.pass}</strong> passed, <strong>{r.totals.fail}</strong> failed DMARC.</p>
					<DayChart days={r.by_day} />
					<h3>Sources</h3>
					<div class="table-wrap">
						<table data-testid="dmarc-sources">
							<thead><tr><th scope="col">Source IP</th><th scope="col">From domain</th><th scope="col">Messages</th><th scope="col">Passed</th><th scope="col">Failed</th><th scope="col">DKIM aligned</th><th scope="col">SPF aligned</th><th scope="col">Quarantined / rejected</th></tr></thead>
							<tbody>
								{r.sources.map((s) => (
									<tr key={s.source_ip + ' ' + s.header_from}>
										<td><code>{s.source_ip}</code></td><td class="wrap">{s.header_from}</td><td>{s.messages}</td>
										<td>{s.pass}</td><td>{s.fail ? <span class="badge badge-missing">{s.fail}</span> : 0}</td>
										<td>{s.dkim_pass}</td><td>{s.spf_pass}</td><td>{s.quarantined} / {s.rejected}</td>
									</tr>
								))}
								{r.sources.length === 0 ? <tr><td colSpan={8} class="muted">No reports in this period.</td></tr> : null}
							</tbody>
						</table>
					</div>
					{r.other_messages ? <p class="muted">{r.other_messages} more messages from other sources.</p> : null}
					<h3>Reports</h3>
					<div class="table-wrap">
						<table data-testid="dmarc-report-list">
							<thead><tr><th scope="col">Reporter</th><th scope="col">Period</th><th scope="col">Policy</th><th scope="col">Messages</th><th scope="col">Passed</th><th scope="col">Failed</th></tr></thead>
							<tbody>
								{r.reports.slice().reverse().map((x) => (
									<tr key={x.org_name + x.report_id + x.begin}>
										<td class="wrap">{x.org_name}{x.email ? <div class="muted">{x.email}</div> : null}</td>
										<td>{dateTime(x.begin)} – {dateTime(x.end)}</td>
										<td><code>p={x.policy.p || '?'}</code>{x.truncated ? <span class="badge badge-different">cut</span> : null}</td>
										<td>{x.messages}</td><td>{x.pass}</td><td>{x.fail}</td>
									</tr>
								))}
							</tbody>
						</table>
					</div>
				</>
			)}
		</section>
	);
}
