// backups.jsx - scheduled backups (TERN_BACKUP_DIR): the schedule, the one
// running with its progress, the last backups and failures; start one now.
import { useEffect } from 'preact/hooks';
import { get, post } from '../api.js';
import { ErrorBox, Loading, PageTitle, useAction, useLoad } from '../components.jsx';
import { bytes, dateTime } from '../format.js';

export function Backups() {
	const list = useLoad(() => get('/backups'));
	const act = useAction();
	const d = list.data;
	const running = d && d.running;
	// While one runs, follow its progress.
	useEffect(() => {
		if (!running)
			return undefined;
		const t = setInterval(list.reload, 1000);
		return () => clearInterval(t);
	}, [!!running]);
	const start = () => act.run(async () => { await post('/backups', {}); list.reload(); });
	const pct = running && running.total_bytes ? Math.floor((100 * running.done_bytes) / running.total_bytes) : 0;
	return (
		<>
			<PageTitle>Backups</PageTitle>
			<ErrorBox error={list.error} />
			<ErrorBox error={act.error} />
			{list.loading && !d ? <Loading /> : null}
			{d && !d.configured ? (
				<p class="alert alert-info" role="status" data-testid="backups-off">
					Scheduled backups are off. Set <code>TERN_BACKUP_DIR</code> (and optionally <code>TERN_BACKUP_TIME</code>, <code>TERN_BACKUP_KEEP</code>) and restart; <code>tern backup DIR</code> works any time.
				</p>
			) : null}
			{d && d.configured ? (
				<>
					<p data-testid="backups-schedule">
						Daily at {d.time} UTC into <code>{d.dir}</code>, keeping {d.keep}. Next: {dateTime(d.next)}.
						{d.last_good ? ` Last good backup: ${dateTime(d.last_good)}.` : ' No good backup yet.'}
					</p>
					{running ? (
						<p role="status" data-testid="backups-running">
							Backup running since {dateTime(running.since)}: {bytes(running.done_bytes)} of {bytes(running.total_bytes)}
							<progress max="100" value={pct}>{pct}%</progress>
						</p>
					) : (
						<button class="btn" onClick={start} disabled={act.busy} data-testid="backups-start">Back up now</button>
					)}
					<div class="table-wrap">
						<table data-testid="backups-table">
							<thead><tr><th scope="col">Started</th><th scope="col">Result</th><th scope="col">Size</th><th scope="col">Duration</th><th scope="col">Messages</th><th scope="col">Name or error</th></tr></thead>
							<tbody>
								{d.backups.map((b) => (
									<tr key={b.name || `f${b.started}`} data-testid="backups-row">
										<td>{dateTime(b.started)}</td>
										<td><span class={`badge ${b.result === 'ok' ? 'badge-found' : 'badge-missing'}`}>{b.result}</span></td>
										<td>{b.result === 'ok' ? bytes(b.bytes) : ''}</td>
										<td>{(b.duration_ms / 1000).toFixed(1)} s</td>
										<td>{b.result === 'ok' ? `${b.emails} (${b.reused} reused)` : ''}</td>
										<td class="wrap">{b.result === 'ok' ? <code>{b.name}</code> : b.error}</td>
									</tr>
								))}
							</tbody>
						</table>
					</div>
				</>
			) : null}
			<button class="btn btn-small" onClick={list.reload} data-testid="backups-refresh">Refresh</button>
		</>
	);
}
