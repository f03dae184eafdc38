// logs.jsx - the server's most recent log lines, newest first, filtered by
// text and level; "Older lines" pages back through what the server keeps.
import { useEffect, useState } from 'preact/hooks';
import { get } from '../api.js';
import { ErrorBox, PageTitle, useAction } from '../components.jsx';

const PAGE = 200;
const two = (n) => String(n).padStart(2, '0');

// Date and time, local: the log page shows lines from several days.
function stamp(t) {
	const d = new Date(t * 1000);
	return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

export function Logs() {
	const [q, setQ] = useState('');
	const [level, setLevel] = useState('info');
	const [lines, setLines] = useState(null);
	const [more, setMore] = useState(false);
	const [follow, setFollow] = useState(false);
	const a = useAction();
	const query = (before) => get(`/logs?q=${encodeURIComponent(q)}&level=${level}&limit=${PAGE}&order=newest${before ? `&before=${before}` : ''}`);
	const load = () => a.run(async () => {
		const r = await query(0);
		setLines(r.lines || []);
		setMore(!!r.more);
	});
	const older = () => a.run(async () => {
		const r = await query(lines[lines.length - 1].seq);
		setLines(lines.concat(r.lines || []));
		setMore(!!r.more);
	});
	useEffect(() => { load(); }, [level]);
	useEffect(() => {
		if (!follow)
			return undefined;
		const t = setInterval(load, 3000);
		return () => clearInterval(t);
	}, [follow, q, level]);
	const submit = (e) => {
		e.preventDefault();
		load();
	};
	return (
		<>
			<PageTitle>Logs</PageTitle>
			<form class="filters" onSubmit={submit} role="search">
				<label>Filter <input type="search" value={q} onInput={(e) => setQ(e.currentTarget.value)} data-testid="log-filter" placeholder="e.g. auth or session=" /></label>
				<label>Level <select value={level} onChange={(e) => setLevel(e.currentTarget.value)} data-testid="log-level">
					<option value="info">info and above</option>
					<option value="warn">warnings and errors</option>
					<option value="error">errors only</option>
				</select></label>
				<button class="btn" type="submit" disabled={a.busy}>Apply</button>
				<label class="checkbox"><input type="checkbox" checked={follow} onChange={(e) => setFollow(e.currentTarget.checked)} /> Refresh every 3 s</label>
			</form>
			<ErrorBox error={a.error} />
			{lines ? (
				// Focusable, so that the keyboard scrolls it; a region, so
				// that its name is said (a pre's role takes no aria-label).
				lines.length ? (
					<pre class="log" data-testid="log-lines" tabIndex={0} role="region" aria-label="Log lines">
						{lines.map((l) => (
							<div key={l.seq} class={`log-${l.level}`}>{stamp(l.time)} {l.level.padEnd(5)} {l.module} {l.text}</div>
						))}
					</pre>
				) : <p class="muted">No matching lines.</p>
			) : null}
			{lines && lines.length ? (
				<div class="buttons">
					{more ? <button class="btn" type="button" disabled={a.busy} onClick={older} data-testid="log-older">Older lines</button>
						: <p class="muted" data-testid="log-end">{lines.length} lines: the oldest the server keeps in memory (the last 1000; <code>docker logs</code> has all).</p>}
				</div>
			) : null}
		</>
	);
}
