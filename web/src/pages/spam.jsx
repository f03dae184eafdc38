// spam.jsx - the spam filter (issue 34): thresholds, greylisting, the
// blocklist zones, the global allow/block lists and spam traps, lists per
// domain or account, the global classifier's state, and the last decisions
// with the rules that made them and "Spam" / "Not spam" buttons that train
// the recipient's model with the message, and the phishing URL and malware
// attachment lists (a feed URL the server downloads, or a feed file
// uploaded). Everything applies to the next message (PUT /spam, PUT
// /spam/lists/{scope}, PUT /spam/phish, PUT /spam/hashes; API.md "Spam
// filter").
import { useEffect, useState } from 'preact/hooks';
import { get, post, put, seg, upload } from '../api.js';
import { ErrorBox, Field, Loading, Notice, PageTitle, TextArea, useAction, useLoad } from '../components.jsx';
import { bytes, dateTime } from '../format.js';

const lines = (list) => (list || []).join('\n');
const entries = (text) => text.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);

function Check({ label, checked, onChange, testid }) {
	const id = 'cb-' + testid;
	return (
		<div class="field checkbox">
			<input type="checkbox" id={id} checked={checked} onChange={(e) => onChange(e.currentTarget.checked)}
				data-testid={testid} />
			<label for={id}>{label}</label>
		</div>
	);
}

export function Spam() {
	const s = useLoad(() => get('/spam'));
	return (
		<>
			<PageTitle>Spam</PageTitle>
			<ErrorBox error={s.error} />
			{s.loading && !s.data ? <Loading /> : null}
			{s.data ? (
				<>
					<Classifier c={s.data.classifier || {}} />
					<SpamForm cfg={s.data} onSaved={s.reload} />
					<FeedList name="phish" cfg={s.data} onSaved={s.reload} />
					<FeedList name="hashes" cfg={s.data} onSaved={s.reload} />
					<ScopeLists />
				</>
			) : null}
			<Recent />
		</>
	);
}

function Classifier({ c }) {
	return (
		<section class="card" data-testid="spam-classifier">
			<h2>Classifier</h2>
			{c.tokens === undefined ? <p class="muted">The model could not be read.</p> : (
				<p>The global model learned <strong>{c.spam}</strong> spam and <strong>{c.ham}</strong> ham messages:
					{' '}{c.tokens} tokens, {bytes(c.bytes)}. {c.usable ? 'It is in use.' :
					`It is used once it learned ${c.min_learned} messages (tern spam train, or users moving mail into and out of Junk).`}</p>
			)}
			{c.grams_spam === undefined ? null : (
				<p data-testid="spam-grams">The byte-gram regression keeps <strong>{c.grams_spam}</strong> spam
					and <strong>{c.grams_ham}</strong> ham lessons. {c.grams_fitted ? 'It is in use.' :
					`It is used once each class has ${c.grams_min} lessons.`}</p>
			)}
		</section>
	);
}

function SpamForm({ cfg, onSaved }) {
	const [enabled, setEnabled] = useState(cfg.enabled);
	const [junk, setJunk] = useState(String(cfg.junk));
	const [reject, setReject] = useState(String(cfg.reject));
	const [discard, setDiscard] = useState(String(cfg.discard));
	const [dnsbl, setDnsbl] = useState(cfg.dnsbl);
	const [uribl, setUribl] = useState(cfg.uribl);
	const [hashbl, setHashbl] = useState(cfg.hashbl || '');
	const [grey, setGrey] = useState(cfg.greylist);
	const [delay, setDelay] = useState(String(cfg.greylist_delay));
	const [good, setGood] = useState(lines(cfg.greylist_good));
	const [allow, setAllow] = useState(lines(cfg.allow));
	const [block, setBlock] = useState(lines(cfg.block));
	const [traps, setTraps] = useState(lines(cfg.traps));
	const [rep, setRep] = useState(!!cfg.reputation);
	const [done, setDone] = useState('');
	const a = useAction();
	useEffect(() => setDone(''), [enabled, junk, reject, discard, dnsbl, uribl, hashbl, grey, delay, good, allow, block, traps, rep]);
	const submit = (e) => {
		e.preventDefault();
		const body = {
			enabled, junk: Number(junk), reject: Number(reject), discard: Number(discard), dnsbl, uribl, hashbl,
			greylist: grey, greylist_delay: parseInt(delay, 10) || 0, greylist_good: entries(good),
			allow: entries(allow), block: entries(block), traps: entries(traps), reputation: rep,
		};
		a.run(async () => {
			await put('/spam', body);
			onSaved();
			setDone('Saved. Applies to the next message.');
		});
	};
	return (
		<form class="card" onSubmit={submit} data-testid="spam-form">
			<h2>Filter</h2>
			<p class="muted">Every message arriving on port 25 gets one score, the sum of the rules that fired
				(shown in its X-Spam-Result field). Mail sent by your users is never scored.</p>
			<Check label="Score incoming mail" checked={enabled} onChange={setEnabled} testid="spam-enabled" />
			<Field label="Junk from score" value={junk} onInput={setJunk} error={a.fieldError('junk')} testid="spam-junk" inputMode="decimal" />
			<Field label="Refuse (550) from score (0: never)" value={reject} onInput={setReject} error={a.fieldError('reject')} testid="spam-reject" inputMode="decimal" />
			<Field label="Discard from score (0: never)" value={discard} onInput={setDiscard} error={a.fieldError('discard')} testid="spam-discard" inputMode="decimal" />
			<TextArea label="IP blocklists (ZONE [WEIGHT] [127.x.x.x[-127.x.x.x]=WEIGHT ...], one a line)" value={dnsbl}
				onInput={setDnsbl} error={a.fieldError('dnsbl')} testid="spam-dnsbl" />
			<TextArea label="Domain blocklists (senders' and links' domains)" value={uribl} onInput={setUribl} error={a.fieldError('uribl')} testid="spam-uribl" rows={2} />
			<TextArea label="Hash lists (email[/md5|/sha256], wallet or file, then ZONE as above; name=NAME names the rule when the zone holds a key)"
				value={hashbl} onInput={setHashbl} error={a.fieldError('hashbl')} testid="spam-hashbl" rows={2} />
			<Check label="Greylisting (new senders are asked to retry)" checked={grey} onChange={setGrey} testid="spam-greylist" />
			<Field label="Greylisting delay (seconds)" value={delay} onInput={setDelay} error={a.fieldError('greylist_delay')} testid="spam-greylist-delay" inputMode="numeric" />
			<TextArea label="Never greylisted when SPF passes (domains)" value={good} onInput={setGood} error={a.fieldError('greylist_good')} testid="spam-greylist-good" />
			<Check label="Sender reputation (the verdicts each network and authenticated domain earned)" checked={rep} onChange={setRep} testid="spam-reputation" />
			<TextArea label="Allow list for everyone (addresses, domains, networks): beats every rule" value={allow}
				onInput={setAllow} error={a.fieldError('allow')} testid="spam-allow" />
			<TextArea label="Block list for everyone: refused" value={block} onInput={setBlock} error={a.fieldError('block')} testid="spam-block" />
			<TextArea label="Spam traps (addresses whose mail is spam by definition)" value={traps} onInput={setTraps} error={a.fieldError('traps')} testid="spam-traps" rows={2} />
			<ErrorBox error={a.error && !a.error.field ? a.error : null} />
			<Notice>{done}</Notice>
			<div class="buttons"><button class="btn btn-primary" type="submit" disabled={a.busy} data-testid="spam-save">Save</button></div>
		</form>
	);
}

// The local lists a feed fills (spam_feed.h): the phishing URL list and
// the malware attachment list. Each card shows what is loaded, the feed URL
// the server downloads every 6 hours, and a feed file to upload instead
// (PUT /spam/{name}).
const FEEDS = {
	phish: {
		title: 'Phishing URL list', what: 'URLs', score: 'A message linking to one of them scores 7.',
		urlLabel: "Feed URL (https; OpenPhish's feed.txt or PhishTank's online-valid.csv)",
		placeholder: 'https://openphish.com/feed.txt',
		fileLabel: "Or load a feed file (one URL a line, or PhishTank's CSV): it replaces the list",
		accept: '.txt,.csv,text/plain,text/csv',
	},
	hashes: {
		title: 'Malware attachment list', what: 'file digests',
		score: 'A message with an attachment whose SHA-256 is one of them scores 10.',
		urlLabel: "Feed URL (https; a SHA-256 digest in hex a line, as MalwareBazaar's exports)",
		placeholder: 'https://bazaar.abuse.ch/export/txt/sha256/recent/',
		fileLabel: 'Or load a file of SHA-256 digests (hex, one a line; CSV and ClamAV .hsb lines too): it replaces the list',
		accept: '.txt,.csv,.hsb,text/plain,text/csv',
	},
};

function FeedList({ name, cfg, onSaved }) {
	const t = FEEDS[name];
	const st = cfg[name] || {};
	const [url, setUrl] = useState(cfg[name + '_url'] || '');
	const [file, setFile] = useState(null);
	const [done, setDone] = useState('');
	const a = useAction();
	const saveUrl = (e) => {
		e.preventDefault();
		a.run(async () => {
			await put('/spam', { [name + '_url']: url.trim() });
			onSaved();
			setDone(url.trim() ? 'Saved. The server downloads the feed within seconds, then every 6 hours.' : 'Saved: no feed URL.');
		});
	};
	const send = (e) => {
		e.preventDefault();
		a.run(async () => {
			const r = await upload(`/spam/${name}?name=${seg(file.name)}`, file, null, 'PUT');
			onSaved();
			setDone(`Loaded ${r.entries} ${t.what}` + (r.bad ? ` (${r.bad} lines without one)` : '') + '.');
		});
	};
	return (
		<section class="card" data-testid={`spam-${name}`}>
			<h2>{t.title}</h2>
			<p data-testid={`spam-${name}-status`}>{st.entries ? <>
				<strong>{st.entries}</strong> {t.what} from {st.source}, loaded {dateTime(st.loaded_at)}. {t.score}</>
				: 'No list is loaded.'}</p>
			<form onSubmit={saveUrl}>
				<Field label={t.urlLabel} value={url} onInput={setUrl} error={a.fieldError(name + '_url')}
					testid={`spam-${name}-url`} placeholder={t.placeholder} />
				<div class="buttons"><button class="btn" type="submit" disabled={a.busy} data-testid={`spam-${name}-url-save`}>Save URL</button></div>
			</form>
			<form onSubmit={send}>
				<div class="field">
					<label for={`${name}-file`}>{t.fileLabel}</label>
					<input id={`${name}-file`} type="file" accept={t.accept}
						onChange={(e) => setFile(e.currentTarget.files[0] || null)} data-testid={`spam-${name}-file`} />
				</div>
				<div class="buttons"><button class="btn" type="submit" disabled={a.busy || !file} data-testid={`spam-${name}-upload`}>Load file</button></div>
			</form>
			<ErrorBox error={a.error && !a.error.field ? a.error : null} />
			<Notice>{done}</Notice>
		</section>
	);
}

// Lists of one served domain or one account: GET/PUT /spam/lists/{scope}.
function ScopeLists() {
	const [scope, setScope] = useState('');
	const [loaded, setLoaded] = useState(null);
	const [allow, setAllow] = useState('');
	const [block, setBlock] = useState('');
	const [done, setDone] = useState('');
	const a = useAction();
	useEffect(() => setDone(''), [allow, block]); /* "Saved" only while nothing changed since */
	const load = (e) => {
		e.preventDefault();
		a.run(async () => {
			const r = await get(`/spam/lists/${seg(scope.trim())}`);
			setLoaded(scope.trim());
			setAllow(lines(r.allow));
			setBlock(lines(r.block));
			setDone('');
		});
	};
	const save = (e) => {
		e.preventDefault();
		a.run(async () => {
			await put(`/spam/lists/${seg(loaded)}`, { allow: entries(allow), block: entries(block) });
			setDone(`Saved for ${loaded}.`);
		});
	};
	return (
		<section class="card" data-testid="spam-scope">
			<h2>Lists of a domain or an account</h2>
			<form onSubmit={load}>
				<Field label="Served domain or account address" value={scope} onInput={setScope} testid="spam-scope-name" placeholder="bob@example.com" />
				<div class="buttons"><button class="btn" type="submit" disabled={a.busy || !scope.trim()} data-testid="spam-scope-load">Show</button></div>
			</form>
			{loaded ? (
				<form onSubmit={save}>
					<TextArea label={`Allow list of ${loaded}`} value={allow} onInput={setAllow} error={a.fieldError('allow')} testid="spam-scope-allow" />
					<TextArea label={`Block list of ${loaded}`} value={block} onInput={setBlock} error={a.fieldError('block')} testid="spam-scope-block" />
					<div class="buttons"><button class="btn btn-primary" type="submit" disabled={a.busy} data-testid="spam-scope-save">Save</button></div>
				</form>
			) : null}
			<ErrorBox error={a.other('allow', 'block')} />
			<Notice>{done}</Notice>
		</section>
	);
}

const ACTION_BADGE = { ham: 'badge-found', spam: 'badge-different', reject: 'badge-missing', discard: 'badge-missing' };

// "Spam" / "Not spam": the first recipient's model learns the stored
// message as the user moving it into or out of Junk would teach it.
function Train({ d }) {
	const a = useAction();
	const [done, setDone] = useState('');
	if (!d.trainable) return <span class="muted">-</span>;
	// Every row has the two buttons: each names its message, so a screen
	// reader's list of buttons is not "Spam, Not spam, Spam, ..." (WCAG 2.4.6).
	const what = `the message from ${d.mail_from || '<>'} to ${d.rcpt} at ${dateTime(d.at)}`;
	const train = (spam) => a.run(async () => {
		const r = await post(`/spam/recent/${d.seq}/train`, { spam });
		setDone(`learned as ${r.learned} (${r.what})`);
	});
	return (
		<span>
			<button class="btn btn-small" disabled={a.busy} onClick={() => train(true)} data-testid="spam-train-spam"
				aria-label={`Spam: ${what}`}>Spam</button>{' '}
			<button class="btn btn-small" disabled={a.busy} onClick={() => train(false)} data-testid="spam-train-ham"
				aria-label={`Not spam: ${what}`}>Not spam</button>
			{done && <span class="muted" data-testid="spam-trained"> {done}</span>}
			<ErrorBox error={a.error} />
		</span>
	);
}

function Recent() {
	const r = useLoad(() => get('/spam/recent'));
	const list = (r.data && r.data.decisions) || [];
	return (
		<section class="card" data-testid="spam-recent">
			<h2>Recent decisions</h2>
			<ErrorBox error={r.error} />
			{list.length ? (
				<div class="table-wrap">
					<table>
						<thead><tr><th scope="col">When</th><th scope="col">From</th><th scope="col">To</th><th scope="col">Client</th><th scope="col">Score</th><th scope="col">Action</th><th scope="col">Rules</th><th scope="col">Train</th></tr></thead>
						<tbody>
							{list.map((d) => (
								<tr key={d.seq} data-testid="spam-decision">
									<td>{dateTime(d.at)}</td>
									<td class="wrap">{d.mail_from || <span class="muted">&lt;&gt;</span>}</td>
									<td class="wrap">{d.rcpt}</td>
									<td>{d.ip}</td>
									<td>{d.score.toFixed(2)}</td>
									<td><span class={`badge ${ACTION_BADGE[d.action] || 'badge-none'}`}>{d.action}</span></td>
									<td class="wrap">{d.rules.join(' ')}</td>
									<td><Train d={d} /></td>
								</tr>
							))}
						</tbody>
					</table>
				</div>
			) : <p class="muted">No message scored since the server started.</p>}
			<button class="btn btn-small" onClick={r.reload} data-testid="spam-recent-refresh">Refresh</button>
		</section>
	);
}
