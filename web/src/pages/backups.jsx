// backups.jsx - scheduled backups: the schedule (set here, or by
// TERN_BACKUP_* which then locks it), the one running with its progress,
// the last backups and failures; start one now.
import { useEffect, useState } from 'preact/hooks';
import { get, post, put } from '../api.js';
import { ErrorBox, Field, Loading, Notice, PageTitle, useAction, useLoad } from '../components.jsx';
import { bytes, dateTime } from '../format.js';

// The schedule form: directory ("" = off), time of day (UTC), how many kept.
function Schedule({ d, onSaved }) {
	const [dir, setDir] = useState(d.configured ? d.dir : '');
	const [time, setTime] = useState(d.configured ? d.time : '03:30');
	const [keep, setKeep] = useState(String(d.configured ? d.keep : 7));
	const [msg, setMsg] = useState('');
	const [pw, setPw] = useState('');
	// A new directory takes the admin password again (every backup holds
	// all mail), and so does keeping fewer (the next run prunes the rest).
	const newDir = !!dir.trim() && dir.trim() !== (d.configured ? d.dir : '');
	const askPw = newDir || (!!dir.trim() && d.configured && Number(keep) < d.keep);
	const act = useAction();
	if (d.locked)
		return <p class="muted" data-testid="backups-locked">The schedule is set by <code>TERN_BACKUP_*</code> variables.</p>;
	const save = (e) => {
		e.preventDefault();
		setMsg('');
		act.run(async () => {
			const body = { dir: dir.trim(), time, keep: Number(keep) };
			if (askPw)
				body.password = pw;
			await put('/backups/schedule', body);
			setPw('');
			setMsg(dir.trim() ? 'Schedule saved.' : 'Scheduled backups are off.');
			onSaved();
		});
	};
	const err = (f) => (act.error && act.error.field === f ? act.error.message : undefined);
	return (
		<form onSubmit={save} class="inline-form" data-testid="backups-schedule-form">
			<Field label="Backup directory (empty: no scheduled backups)" value={dir} onInput={setDir} placeholder="/backup"
				maxLength={500} testid="backups-dir" error={err('dir')} />
			<Field label="Daily at (UTC)" value={time} onInput={setTime} pattern="[0-2][0-9]:[0-5][0-9]" testid="backups-time" error={err('time')} />
			<Field label="Backups kept" type="number" min={1} max={1000} value={keep} onInput={setKeep} testid="backups-keep" error={err('keep')} />
			{askPw ? <Field label={newDir ? 'Admin password (for a new directory)' : 'Admin password (fewer backups kept: older ones are deleted)'} type="password" value={pw} onInput={setPw} required
				autoComplete="current-password" testid="backups-password" error={err('password')} /> : null}
			<ErrorBox error={act.error && !act.error.field ? act.error : null} />
			<button class="btn" type="submit" disabled={act.busy} data-testid="backups-schedule-save">Save schedule</button>
			<Notice testid="backups-schedule-saved">{msg}</Notice>
		</form>
	);
}

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
					Scheduled backups are off. Choose a directory below (or set <code>TERN_BACKUP_DIR</code>); <code>tern backup DIR</code> works any time.
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
			{d ? <Schedule key={`${d.configured}${d.dir}${d.time}${d.keep}`} d={d} onSaved={list.reload} /> : null}
			<button class="btn btn-small" onClick={list.reload} data-testid="backups-refresh">Refresh</button>
		</>
	);
}
