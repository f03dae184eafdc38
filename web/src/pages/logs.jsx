// logs.jsx - the server's most recent log lines, filtered by text and level.
import { useEffect, useState } from 'preact/hooks';
import { get } from '../api.js';
import { ErrorBox, PageTitle, useAction } from '../components.jsx';

function stamp(t) {
	const d = new Date(t * 1000);
	return d.toLocaleTimeString([], { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}

export function Logs() {
	const [q, setQ] = useState('');
	const [level, setLevel] = useState('info');
	const [lines, setLines] = useState(null);
	const [follow, setFollow] = useState(false);
	const a = useAction();
	const load = () => a.run(async () => {
		const r = await get(`/logs?q=${encodeURIComponent(q)}&level=${level}&limit=500`);
		setLines(r.lines || []);
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
				lines.length ? (
					<pre class="log" data-testid="log-lines" tabIndex={0} aria-label="Log lines">
						{lines.map((l, i) => (
							<div key={i} class={`log-${l.level}`}>{stamp(l.time)} {l.level.padEnd(5)} {l.module} {l.text}</div>
						))}
					</pre>
				) : <p class="muted">No matching lines.</p>
			) : null}
		</>
	);
}
