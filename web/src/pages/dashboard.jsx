// dashboard.jsx - counts at a glance and the mail flow of the last 24 hours.
import { get } from '../api.js';
import { ErrorBox, Loading, PageTitle, useLoad } from '../components.jsx';
import { HourChart } from '../chart.jsx';
import { Link } from '../router.jsx';
import { bytes, duration } from '../format.js';

function Stat({ label, value, href, testid }) {
	return (
		<div class="stat" data-testid={testid}>
			<dt>{href ? <Link href={href}>{label}</Link> : label}</dt>
			<dd>{value}</dd>
		</div>
	);
}

export function Dashboard() {
	const s = useLoad(() => get('/stats'));
	const d = s.data;
	return (
		<>
			<PageTitle>Dashboard</PageTitle>
			<ErrorBox error={s.error} />
			{!d && s.loading ? <Loading /> : null}
			{d ? (
				<>
					<dl class="stats">
						<Stat label="Accounts" value={d.accounts} href="/accounts" testid="stat-accounts" />
						<Stat label="Domains" value={d.domains} href="/domains" testid="stat-domains" />
						<Stat label="Queue" value={d.queue && d.queue.available ? d.queue.size : 'n/a'} href="/queue" testid="stat-queue" />
						<Stat label="Storage used" value={bytes(d.storage && d.storage.used)} testid="stat-storage" />
					</dl>
					<section class="card">
						<h2>Mail flow</h2>
						<HourChart hours={d.hours} />
					</section>
					<p class="muted">
						tern {d.version}{d.uptime !== undefined ? `, up ${duration(d.uptime)}` : ''}
						{d.storage && d.storage.map ? ` · store map ${bytes(d.storage.map)}` : ''}
					</p>
					<button class="btn btn-small" onClick={s.reload}>Refresh</button>
				</>
			) : null}
		</>
	);
}
