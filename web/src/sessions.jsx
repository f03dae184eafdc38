// sessions.jsx - "where you are signed in" (API.md "Signed-in sessions"):
// the account's portal sessions (base '/me') or the admin's (base ''),
// each with when it started and was last used, its address and browser,
// this one marked; any other can be signed out, or all of them at once.
// Ending one asks for the password again (the admin's on the admin's
// page), as the server does: a stolen cookie alone signs nobody out.
import { del, get, seg } from './api.js';
import { ConfirmButton, ErrorBox, Loading, useAction, useLoad } from './components.jsx';
import { dateTime } from './format.js';

export function Sessions({ base = '/me', admin = false }) {
	const path = `${base}/sessions`;
	const list = useLoad(() => get(path), [path]);
	const a = useAction();
	const pwLabel = admin ? 'Admin password' : 'Your password';
	const end = (handle, pw) => a.run(async () => {
		await del(`${path}/${seg(handle)}`, { password: pw });
		list.reload();
	});
	const endOthers = (pw) => a.run(async () => {
		await del(path, { password: pw });
		list.reload();
	});
	const rows = (list.data && list.data.sessions) || [];
	const others = rows.filter((r) => !r.current).length;
	return (
		<section class="card" data-testid="sessions">
			<h2>Where you are signed in</h2>
			<p>{admin ? 'The admin' : 'Your account'} is signed in to this page in these browsers, the most recent first (at most {(list.data && list.data.max) || 8}: a new sign-in ends the oldest). Sign out any you do not know, then change the password.</p>
			<ErrorBox error={list.error || a.error} />
			{rows.length ? (
				<div class="table-wrap">
					<table>
						<thead><tr><th scope="col">Browser</th><th scope="col">Address</th><th scope="col">Signed in</th><th scope="col">Last used</th><th scope="col"><span class="offscreen">Actions</span></th></tr></thead>
						<tbody>
							{rows.map((r) => (
								<tr key={r.handle} data-testid={r.current ? 'session-current' : 'session-row'}>
									<td class="wrap">{r.user_agent || 'unknown'}</td>
									<td>{r.ip}</td>
									<td>{dateTime(r.created)}</td>
									<td>{dateTime(r.last_used)}</td>
									<td class="actions">{r.current ? <strong>This session</strong>
										: <ConfirmButton label="Sign out" confirm="Sign this session out?" password pwLabel={pwLabel} onConfirm={(pw) => end(r.handle, pw)} testid="session-end" />}</td>
								</tr>
							))}
						</tbody>
					</table>
				</div>
			) : list.error ? null : <Loading />}
			{others ? (
				<p><ConfirmButton label="Sign out everywhere else" confirm={`Sign out the ${others} other session${others === 1 ? '' : 's'}?`} password pwLabel={pwLabel} onConfirm={endOthers} testid="sessions-end-others" /></p>
			) : null}
		</section>
	);
}
