// migrate.jsx - "copy mail from another server" for one account: starts
// POST /accounts/{email}/migrate (tern migrate in the background) and
// follows GET /jobs/{id} once a second until it ends, showing the counts,
// bytes and time left from the command's own progress lines.
import { useEffect, useState } from 'preact/hooks';
import { get, post, seg } from '../api.js';
import { ErrorBox, Field, Notice, useAction } from '../components.jsx';
import { bytes } from '../format.js';

function Progress({ job }) {
	if (job.state === 'done')
		return <Notice testid="migrate-done">Done. {job.result}</Notice>;
	if (job.state === 'failed')
		return <Notice kind="error" testid="migrate-failed">Failed: {job.error}</Notice>;
	const pct = job.total_bytes ? Math.min(100, Math.round((job.bytes * 100) / job.total_bytes)) : undefined;
	return (
		<p class="alert alert-info" role="status" data-testid="migrate-running">
			<progress max="100" value={pct} /> {' '}
			Copying: {job.done} of {job.total || '?'} messages, {bytes(job.bytes)}
			{job.left_s ? `, about ${job.left_s} s left` : ''}
		</p>
	);
}

export function MigratePanel({ email }) {
	const [from, setFrom] = useState('');
	const [pw, setPw] = useState('');
	const [sieve, setSieve] = useState(false);
	const [job, setJob] = useState(null);
	const act = useAction();
	useEffect(() => {
		if (!job || job.state !== 'running')
			return undefined;
		const t = setTimeout(() => {
			get(`/jobs/${job.id}`).then(setJob, act.setError);
		}, 1000);
		return () => clearTimeout(t);
	}, [job]);
	const start = (e) => {
		e.preventDefault();
		act.run(async () => {
			setJob(await post(`/accounts/${seg(email)}/migrate`, { from: from.trim(), password: pw, sieve }));
			setPw('');
		});
	};
	const fieldError = (f) => (act.error && act.error.field === f ? act.error.message : undefined);
	return (
		<form onSubmit={start} class="inline-form" data-testid="migrate-form">
			<Field label="Copy mail from another server (imaps://user@imap.example.net)" value={from} onInput={setFrom}
				required maxLength={400} testid="migrate-from" error={fieldError('from')} />
			<Field label="Its password" type="password" value={pw} onInput={setPw} required maxLength={500}
				autoComplete="off" testid="migrate-password" error={fieldError('password')} />
			<label class="check">
				<input type="checkbox" checked={sieve} onChange={(e) => setSieve(e.currentTarget.checked)} data-testid="migrate-sieve" />
				{' '}also its Sieve filters (ManageSieve)
			</label>
			<ErrorBox error={act.error && !act.error.field ? act.error : null} />
			<button class="btn" type="submit" disabled={act.busy || (job && job.state === 'running')} data-testid="migrate-start">Copy mail</button>
			{job && <Progress job={job} />}
		</form>
	);
}
