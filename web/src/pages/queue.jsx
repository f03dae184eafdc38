// queue.jsx - outgoing messages waiting for delivery: retry now, delete.
// A Priority column (MT-PRIORITY) only when an entry on the page has one.
// A page at a time (API.md "Queue"): a domain that is down can leave tens
// of thousands waiting, too many to fetch or draw at once.
import { useState } from 'preact/hooks';
import { del, get, post, seg } from '../api.js';
import { ConfirmButton, ErrorBox, Loading, PageTitle, useAction, useLoad } from '../components.jsx';
import { bytes, dateTime } from '../format.js';

const STATE_BADGE = { pending: 'badge-different', sent: 'badge-found', failed: 'badge-missing' };

// Each recipient with its delivery state (API.md: `recipients`), else the
// plain `to` list.
function Recipients({ m }) {
	if (!m.recipients || !m.recipients.length)
		return <>{(m.to || []).join(', ')}</>;
	return (
		<ul class="plain">
			{m.recipients.map((r) => (
				<li key={r.address} title={[r.status, r.remote].filter(Boolean).join(' · ')}>
					{r.address} <span class={`badge ${STATE_BADGE[r.state] || 'badge-none'}`}>{r.state}</span>
				</li>
			))}
		</ul>
	);
}

// MT-PRIORITY (RFC 6710, API.md: `priority`), -9..9 with a sign: "+3",
// "-4", "0".
function priorityText(p) {
	return p > 0 ? `+${p}` : String(p || 0);
}

export const QUEUE_PAGE = 100;

export function Queue() {
	// cursors[i] is the `after` of page i; the first page has none.
	const [cursors, setCursors] = useState([0]);
	const [domain, setDomain] = useState('');
	const [filter, setFilter] = useState('');
	const page = cursors.length - 1;
	const after = cursors[page];
	const list = useLoad(() => get(`/queue?limit=${QUEUE_PAGE}${after ? `&after=${after}` : ''}${filter ? `&domain=${encodeURIComponent(filter)}` : ''}`), [after, filter]);
	const act = useAction();
	const unavailable = list.error && list.error.code === 'not_implemented';
	const messages = (list.data && list.data.messages) || [];
	const total = (list.data && list.data.total) || 0;
	const held = (list.data && list.data.held) || 0;
	const next = list.data && list.data.next;
	const first = page * QUEUE_PAGE + 1;
	// Most mail has none: the column only when the page holds one given.
	const prioritized = messages.some((m) => m.priority);
	const search = (e) => {
		e.preventDefault();
		setCursors([0]);
		setFilter(domain.trim());
	};
	const retry = (id) => act.run(async () => { await post(`/queue/${seg(id)}/retry`, {}); list.reload(); });
	const drop = (id, password) => act.run(async () => { await del(`/queue/${seg(id)}`, { password }); list.reload(); });
	return (
		<>
			<PageTitle>Queue</PageTitle>
			{unavailable ? <p class="alert alert-info" role="status">The outbound queue is not part of this build of tern.</p> : <ErrorBox error={list.error} />}
			<ErrorBox error={act.error} />
			{list.loading && !list.data ? <Loading /> : null}
			{list.data ? (
				<>
					<p data-testid="queue-count">{total ? `${total} message${total > 1 ? 's' : ''} waiting.` : 'The queue is empty.'}
						{messages.length && (page || next) ? ` Showing ${filter ? `those for ${filter}, ` : ''}${first}–${first + messages.length - 1}.` : ''}
						{filter && !messages.length && total ? ` None for ${filter}.` : ''}</p>
					{held ? <p class="alert alert-info" role="status" data-testid="queue-held-count">{held} held: restored from a backup, they may have been delivered before it was lost. They wait (they never expire) until Retry now sends one or Delete drops it; <code>tern queue flush</code> sends them all.</p> : null}
					<form class="filters" onSubmit={search} role="search">
						<label>Recipient domain <input type="search" value={domain} onInput={(e) => setDomain(e.currentTarget.value)} data-testid="queue-domain" placeholder="e.g. example.com" /></label>
						<button class="btn" type="submit" disabled={list.loading}>Apply</button>
					</form>
					<div class="table-wrap">
						<table data-testid="queue-table">
							<thead><tr><th scope="col">From</th><th scope="col">To</th><th scope="col">Size</th><th scope="col">Queued</th><th scope="col">Attempts</th><th scope="col">Next attempt</th>{prioritized ? <th scope="col" title="MT-PRIORITY (RFC 6710): higher ones are sent first" data-testid="queue-priority-head">Priority</th> : null}<th scope="col">Last error</th><th scope="col"><span class="offscreen">Actions</span></th></tr></thead>
							<tbody>
								{messages.map((m) => (
									<tr key={m.id} data-testid="queue-row">
										<td class="wrap">{m.from || <span class="muted">&lt;&gt;</span>}</td>
										<td class="wrap"><Recipients m={m} /></td>
										<td>{bytes(m.size)}</td>
										<td>{dateTime(m.created)}</td>
										<td>{m.attempts}</td>
										<td>{m.held
											? <span class="badge badge-none" title="Restored from a backup: held until Retry now sends it or Delete drops it" data-testid="queue-held">held</span>
											: dateTime(m.next_attempt)}</td>
										{prioritized ? <td data-testid="queue-priority">{priorityText(m.priority)}</td> : null}
										<td class="wrap">{m.last_error}</td>
										<td class="actions">
											<button class="btn btn-small" onClick={() => retry(m.id)} disabled={act.busy}>Retry now</button>
											<ConfirmButton label="Delete" confirm="Delete without delivering?" password onConfirm={(pw) => drop(m.id, pw)} testid="queue-delete" />
										</td>
									</tr>
								))}
							</tbody>
						</table>
					</div>
					{page || next ? (
						<div class="buttons">
							<button class="btn btn-small" type="button" disabled={!page || list.loading} onClick={() => setCursors(cursors.slice(0, -1))} data-testid="queue-prev">Previous</button>
							<button class="btn btn-small" type="button" disabled={!next || list.loading} onClick={() => setCursors(cursors.concat([next]))} data-testid="queue-next">Next</button>
						</div>
					) : null}
				</>
			) : null}
			<button class="btn btn-small" onClick={list.reload} data-testid="queue-refresh">Refresh</button>
		</>
	);
}
