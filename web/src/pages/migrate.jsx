// migrate.jsx - bringing mail into one account: "copy mail from another
// server" starts POST /accounts/{email}/migrate (tern migrate in the
// background), "import an mbox file" uploads the file to POST
// /accounts/{email}/import (tern import in the background); both follow
// GET /jobs/{id} once a second until it ends, showing the counts, bytes
// and time left from the command's own progress lines.
import { useEffect, useState } from 'preact/hooks';
import { get, post, seg, upload } from '../api.js';
import { ErrorBox, Field, Notice, useAction } from '../components.jsx';
import { bytes } from '../format.js';

function Progress({ job, testid = 'migrate' }) {
	if (job.state === 'done')
		return <Notice testid={`${testid}-done`}>Done. {job.result}</Notice>;
	if (job.state === 'failed')
		return <Notice kind="error" testid={`${testid}-failed`}>Failed: {job.error}</Notice>;
	const pct = job.total_bytes ? Math.min(100, Math.round((job.bytes * 100) / job.total_bytes)) : undefined;
	return (
		<p class="alert alert-info" role="status" data-testid={`${testid}-running`}>
			<progress max="100" value={pct} /> {' '}
			Copying: {job.done} of {job.total || '?'} messages, {bytes(job.bytes)}
			{job.left_s ? `, about ${job.left_s} s left` : ''}
		</p>
	);
}

// A job's state, refreshed once a second while it runs.
function useJob(act) {
	const [job, setJob] = useState(null);
	useEffect(() => {
		if (!job || job.state !== 'running')
			return undefined;
		const t = setTimeout(() => {
			get(`/jobs/${job.id}`).then(setJob, act.setError);
		}, 1000);
		return () => clearTimeout(t);
	}, [job]);
	return [job, setJob];
}

export function MigratePanel({ email }) {
	const [from, setFrom] = useState('');
	const [pw, setPw] = useState('');
	const [sieve, setSieve] = useState(false);
	const [current, setCurrent] = useState('');
	const act = useAction();
	const [job, setJob] = useJob(act);
	const start = (e) => {
		e.preventDefault();
		act.run(async () => {
			const body = { from: from.trim(), password: pw, sieve };
			if (sieve)
				body.current = current;
			setJob(await post(`/accounts/${seg(email)}/migrate`, body));
			setPw('');
			setCurrent('');
		});
	};
	return (
		<form onSubmit={start} class="inline-form" data-testid="migrate-form">
			<Field label="Copy mail from another server (imaps://user@imap.example.net)" value={from} onInput={setFrom}
				required maxLength={400} testid="migrate-from" error={act.fieldError('from')} />
			<Field label="Its password" type="password" value={pw} onInput={setPw} required maxLength={500}
				autoComplete="off" testid="migrate-password" error={act.fieldError('password')} />
			<label class="check">
				<input type="checkbox" checked={sieve} onChange={(e) => setSieve(e.currentTarget.checked)} data-testid="migrate-sieve" />
				{' '}also its Sieve filters (ManageSieve)
			</label>
			{/* Its active filter becomes this account's, and may redirect mail
			    out: the server asks the admin password then (api_jobs.c). */}
			{sieve ? (
				<Field label="Admin password (to copy filters)" type="password" value={current} onInput={setCurrent} required
					autoComplete="current-password" testid="migrate-current" error={act.fieldError('current')} />
			) : null}
			<ErrorBox error={act.error && !act.error.field ? act.error : null} />
			<button class="btn" type="submit" disabled={act.busy || (job && job.state === 'running')} data-testid="migrate-start">Copy mail</button>
			{job && <Progress job={job} />}
		</form>
	);
}

// The folder an mbox goes to by default: its file name without the
// extension ("Archive.mbox" -> "Archive"), as tern import names folders.
const folderOf = (name) => name.replace(/\.(mbox|mbx)$/i, '') || 'INBOX';

export function ImportPanel({ email }) {
	const [file, setFile] = useState(null);
	const [mailbox, setMailbox] = useState('');
	const [sent, setSent] = useState(null);
	const act = useAction();
	const [job, setJob] = useJob(act);
	const pick = (e) => {
		const f = e.currentTarget.files[0] || null;
		setFile(f);
		if (f)
			setMailbox(folderOf(f.name));
	};
	const start = (e) => {
		e.preventDefault();
		act.run(async () => {
			const q = `?name=${seg(file.name)}&mailbox=${seg(mailbox.trim() || 'INBOX')}`;
			setSent(0);
			try {
				setJob(await upload(`/accounts/${seg(email)}/import${q}`, file, (n) => setSent(n)));
			} finally {
				setSent(null);
			}
		});
	};
	const uploading = sent !== null;
	return (
		<form onSubmit={start} class="inline-form" data-testid="import-form">
			<div class="field">
				<label for="import-file">Import an mbox file (Thunderbird's ImportExportTools, Gmail Takeout, mutt)</label>
				<input id="import-file" type="file" accept=".mbox,.mbx,application/mbox,text/plain" onChange={pick} required data-testid="import-file" />
			</div>
			<Field label="Into the folder" value={mailbox} onInput={setMailbox} required maxLength={200}
				testid="import-mailbox" error={act.fieldError('mailbox')} />
			<ErrorBox error={act.error && !act.error.field ? act.error : null} />
			<button class="btn" type="submit" disabled={!file || act.busy || (job && job.state === 'running')} data-testid="import-start">Import</button>
			{uploading && (
				<p class="alert alert-info" role="status" data-testid="import-uploading">
					<progress max={file.size || 1} value={sent} /> {' '}Uploading: {bytes(sent)} of {bytes(file.size)}
				</p>
			)}
			{job && <Progress job={job} testid="import" />}
		</form>
	);
}
