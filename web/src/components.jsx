// components.jsx - small building blocks shared by the pages: form fields,
// error and status messages, copy buttons, inline confirmation.
import { useState, useEffect, useLayoutEffect, useRef } from 'preact/hooks';
import { errorText, get, post } from './api.js';

let nextId = 0;
function useId(prefix) {
	const ref = useRef(null);
	if (ref.current === null)
		ref.current = `${prefix}-${++nextId}`;
	return ref.current;
}

// The live strength meter under a new-password field (issue 31): the
// server's own verdict (POST /password/strength, the rule every path
// that sets a password applies), asked 300 ms after typing stops, so the
// meter and a refusal never disagree. Nothing shows for an empty field.
const METER_WORDS = ['very weak', 'weak', 'fair', 'good', 'strong'];
export function StrengthMeter({ password, testid = 'pw-meter' }) {
	const [v, setV] = useState(null);
	useEffect(() => {
		if (!password) {
			setV(null);
			return undefined;
		}
		let live = true;
		const t = setTimeout(() => {
			post('/password/strength', { password }).then((r) => live && setV(r)).catch(() => live && setV(null));
		}, 300);
		return () => {
			live = false;
			clearTimeout(t);
		};
	}, [password]);
	if (!password || !v)
		return null;
	return (
		<div class={'strength' + (v.acceptable ? ' strength-ok' : ' strength-bad')} data-testid={testid}
			data-score={v.score} data-acceptable={v.acceptable ? 'yes' : 'no'} aria-live="polite">
			<meter min="0" max="4" low="2" high="3" optimum="4" value={v.score} aria-label="Password strength" />
			<span class="strength-word">{METER_WORDS[v.score]}</span>
			{v.acceptable ? null : <p class="hint" data-testid={`${testid}-hint`}>{v.message}</p>}
		</div>
	);
}

// A refusal shown under a field takes the focus to the field to fix (WCAG
// 3.3.1): the form's first one in error, which is this one or one before
// it. Without this, Enter in another field (the last one, or the password
// after a refused address) left the focus where it was, and a keyboard
// user had to look for what was wrong. `ref` is the control's, `error`
// what it shows now (set once per refusal). A layout effect: the focus
// moves in the render that marks the field invalid, before a paint.
function useFocusOnError(ref, error) {
	useLayoutEffect(() => {
		const el = ref.current;
		if (!error || !el)
			return;
		const first = (el.form && el.form.querySelector('[aria-invalid=true]')) || el;
		first.focus();
	}, [error]);
}

// A labelled input. `error` is shown under it and tied to it for screen
// readers, and takes the focus there (useFocusOnError); `locked` shows
// the value read-only with the variable that set it; inputRef is the
// <input>'s ref (to focus it).
export function Field({ label, value, onInput, type = 'text', error: given, hint, locked, lockedBy, testid, inputRef, ...rest }) {
	const id = useId('f');
	const own = useRef(null);
	// An error is about the value it was given for: once the field is
	// corrected it goes, rather than staying under the right value.
	const [errFor, setErrFor] = useState(null);
	useEffect(() => setErrFor(given ? value : null), [given]);
	const error = given && value === errFor ? given : undefined;
	useFocusOnError(own, error);
	const hintId = hint || error || locked ? `${id}-hint` : undefined;
	const setRef = (el) => {
		own.current = el;
		if (inputRef)
			inputRef.current = el;
	};
	return (
		<div class={'field' + (error ? ' field-error' : '')}>
			<label for={id}>{label}</label>
			<input
				id={id}
				ref={setRef}
				type={type}
				value={value}
				onInput={(e) => onInput && onInput(e.currentTarget.value)}
				readOnly={locked}
				aria-invalid={error ? 'true' : undefined}
				aria-describedby={hintId}
				data-testid={testid}
				{...rest}
			/>
			{locked ? (
				<p class="hint locked" id={hintId}><Lock /> Set by {lockedBy || 'an environment variable'}; change it there.</p>
			) : error ? (
				<p class="hint error-text" id={hintId}>{error}</p>
			) : hint ? (
				<p class="hint" id={hintId}>{hint}</p>
			) : null}
		</div>
	);
}

// A labelled text area (a list, one entry a line; a script): `error` as
// Field's, shown under it, tied to it for screen readers and focused.
export function TextArea({ label, value, onInput, error, testid, rows = 3, ...rest }) {
	const id = useId('ta');
	const ref = useRef(null);
	useFocusOnError(ref, error);
	const hintId = error ? `${id}-hint` : undefined;
	return (
		<div class={'field' + (error ? ' field-error' : '')}>
			<label for={id}>{label}</label>
			<textarea id={id} ref={ref} rows={rows} value={value} onInput={(e) => onInput(e.currentTarget.value)}
				aria-invalid={error ? 'true' : undefined} aria-describedby={hintId} data-testid={testid} {...rest} />
			{error ? <p class="hint error-text" id={hintId}>{error}</p> : null}
		</div>
	);
}

export function Lock() {
	return (
		<svg class="icon" viewBox="0 0 16 16" aria-hidden="true" width="14" height="14">
			<path d="M4 7V5a4 4 0 0 1 8 0v2h1v8H3V7zm2 0h4V5a2 2 0 0 0-4 0z" fill="currentColor" />
		</svg>
	);
}

// An error from the API (or a string), announced to screen readers.
export function ErrorBox({ error }) {
	if (!error)
		return null;
	return <p class="alert alert-error" role="alert" data-testid="error">{typeof error === 'string' ? error : errorText(error)}</p>;
}

// A status message ("Saved."), said by screen readers when it appears.
// With nothing to say it is still there, empty and out of the layout: a
// status region must be in the page before its text changes to be read
// out; one inserted with its text is often not (the forms that render
// <Notice>{done}</Notice> keep theirs from the start).
export function Notice({ children, kind = 'ok', testid }) {
	if (!children)
		return <p class="live-empty" role="status" />;
	return <p class={`alert alert-${kind}`} role="status" data-testid={testid}>{children}</p>;
}

// Copies text to the clipboard. navigator.clipboard needs a secure context
// (HTTPS or localhost); elsewhere fall back to a selected textarea.
export function CopyButton({ text, label = 'Copy', testid }) {
	const [done, setDone] = useState(false);
	useEffect(() => {
		if (!done)
			return undefined;
		const t = setTimeout(() => setDone(false), 1500);
		return () => clearTimeout(t);
	}, [done]);
	const copy = async () => {
		try {
			await navigator.clipboard.writeText(text);
		} catch (e) {
			const ta = document.createElement('textarea');
			ta.value = text;
			ta.setAttribute('readonly', '');
			ta.className = 'offscreen';
			document.body.appendChild(ta);
			ta.select();
			document.execCommand('copy');
			ta.remove();
		}
		setDone(true);
	};
	// The button's name (aria-label) stays what it copies, so its text
	// turning to "Copied" is not read out: a status region says it.
	return (
		<>
			<button type="button" class="btn btn-small" onClick={copy} data-testid={testid} aria-label={`${label}: ${text.length > 40 ? text.slice(0, 40) + '…' : text}`}>
				{done ? 'Copied' : label}
			</button>
			<span class="offscreen" role="status" data-testid={testid && `${testid}-status`}>{done ? 'Copied' : ''}</span>
		</>
	);
}

// A button that asks "sure?" in place instead of a modal dialog; with
// password set, the question also takes the admin password, which
// onConfirm gets (an action the server asks it again for).
// password: asks for the admin's (pwLabel: or whose) password again, as the
// API does for whatever destroys or revokes, and gives it to onConfirm.
// Focus follows the question as it would a dialog's: into it when it
// opens (the password field, else "No"), back to the button when it is
// answered or dismissed (No, Escape); a keyboard user is never left on
// the page's top.
// The question, shown and as its group's accessible name. name, when
// given, is what someone typed (a script's name, a label, an address) and
// takes the place of "{name}" in confirm: in <bdi> on the page, between
// FSI and PDI (U+2068/U+2069) in the name, so a bidi override in it
// (U+202E) cannot turn the question's own words around.
function question(confirm, name) {
	if (name == null)
		return [confirm, confirm];
	const at = confirm.indexOf('{name}');
	const before = confirm.slice(0, at), after = confirm.slice(at + 6);
	return [<>{before}<bdi>{name}</bdi>{after}</>, `${before}\u2068${name}\u2069${after}`];
}

export function ConfirmButton({ label, confirm = 'Really?', name = null, onConfirm, testid, danger = true, password = false, pwLabel = 'Admin password' }) {
	const [asking, setAsking] = useState(false);
	const [pw, setPw] = useState('');
	const first = useRef(null);
	const trigger = useRef(null);
	const opened = useRef(false);
	// A layout effect: the focus moves with the render, before the browser
	// paints it, so nothing sees the new button without the focus.
	useLayoutEffect(() => {
		if (asking) {
			opened.current = true;
			first.current && first.current.focus();
		} else if (opened.current) {
			opened.current = false;
			trigger.current && trigger.current.focus();
		}
	}, [asking]);
	if (!asking)
		return <button type="button" ref={trigger} class={'btn btn-small' + (danger ? ' btn-danger' : '')} onClick={() => setAsking(true)} data-testid={testid}>{label}</button>;
	const yes = () => { setAsking(false); const p = pw; setPw(''); onConfirm(p); };
	const [shown, spoken] = question(confirm, name);
	const no = () => { setAsking(false); setPw(''); };
	return (
		<span class="confirm" role="group" aria-label={spoken} onKeyDown={(e) => { if (e.key === 'Escape') { e.stopPropagation(); no(); } }}>
			<span data-testid={testid && `${testid}-question`}>{shown}</span>
			{password ? <input type="password" ref={first} class="confirm-password" aria-label={pwLabel} placeholder={pwLabel}
				autoComplete="current-password" value={pw} onInput={(e) => setPw(e.currentTarget.value)}
				onKeyDown={(e) => { if (e.key === 'Enter' && pw) yes(); }} data-testid={testid && `${testid}-password`} /> : null}
			<button type="button" class="btn btn-small btn-danger" data-testid={testid && `${testid}-yes`}
				disabled={password && !pw} onClick={yes}>Yes</button>
			<button type="button" ref={password ? null : first} class="btn btn-small" onClick={no} data-testid={testid && `${testid}-no`}>No</button>
		</span>
	);
}

// Runs an async action, tracking busy state and the error. A problem that
// names a field (API.md: `field`) belongs under that field:
// fieldError(name) is its message for <Field error=>, other(...names) the
// error left for the form's ErrorBox when none of those fields shows it.
export function useAction() {
	const [busy, setBusy] = useState(false);
	const [error, setError] = useState(null);
	// The buttons an action disables while it runs lose the focus to the
	// page's body (Chromium's focus fixup): a keyboard user who pressed
	// Save was sent to the top of the page. The element focused when the
	// action started gets it back once it is done, if nothing else took it.
	const back = useRef(null);
	useLayoutEffect(() => {
		const el = back.current;
		if (busy || !el)
			return;
		back.current = null;
		if (document.activeElement === document.body && el.isConnected && !el.disabled)
			el.focus();
	}, [busy]);
	const run = async (fn) => {
		back.current = document.activeElement;
		setBusy(true);
		setError(null);
		try {
			return await fn();
		} catch (e) {
			setError(e);
			return undefined;
		} finally {
			setBusy(false);
		}
	};
	const fieldError = (name) => (error && error.field === name ? error.message : undefined);
	const other = (...names) => (error && !names.includes(error.field) ? error : null);
	return { busy, error, setError, run, fieldError, other };
}

// Loads data from the API; reload() fetches again.
export function useLoad(fn, deps = []) {
	const [state, setState] = useState({ data: null, error: null, loading: true });
	const [tick, setTick] = useState(0);
	useEffect(() => {
		let live = true;
		setState((s) => ({ ...s, loading: true }));
		fn().then(
			(data) => live && setState({ data, error: null, loading: false }),
			(error) => live && setState({ data: null, error, loading: false }),
		);
		return () => { live = false; };
	}, [...deps, tick]);
	return { ...state, reload: () => setTick((t) => t + 1) };
}

// One listing a page at a time (API.md "Pages": limit, after, total,
// next). cursors[i] is the `after` of page i; the first page has none.
// query: more parameters (`&q=...`); another query starts at its first page.
export const PAGE_SIZE = 100;
export function usePages(path, size = PAGE_SIZE, query = '') {
	const [walk, setWalk] = useState({ query, cursors: [null] });
	const cursors = walk.query === query ? walk.cursors : [null];
	const page = cursors.length - 1;
	const after = cursors[page];
	const list = useLoad(() => get(`${path}?limit=${size}${after != null ? `&after=${encodeURIComponent(after)}` : ''}${query}`), [after, query]);
	const next = (list.data && list.data.next) ?? null;
	// A later page that came back empty (its last item deleted, here or
	// elsewhere): step back, not "none yet" under a count of many.
	const total = list.data ? list.data.total || 0 : -1;
	useEffect(() => {
		if (page && total >= 0 && total <= page * size)
			setWalk({ query, cursors: cursors.slice(0, -1) });
	}, [page, total]);
	return {
		list, page, next, size,
		total: (list.data && list.data.total) || 0,
		forward: () => next != null && setWalk({ query, cursors: cursors.concat([next]) }),
		back: () => page && setWalk({ query, cursors: cursors.slice(0, -1) }),
	};
}

// "N things. Showing a–b." and Previous/Next buttons, when there is more
// than one page; testid names them: `${testid}-count`, -prev, -next.
export function Pager({ p, shown, noun, nouns = noun + 's', testid }) {
	const first = p.page * p.size + 1;
	const many = p.page || p.next != null;
	return (
		<>
			<p data-testid={`${testid}-count`}>{`${p.total} ${p.total === 1 ? noun : nouns}.`}
				{many && shown ? ` Showing ${first}–${first + shown - 1}.` : ''}</p>
			{many ? (
				<div class="buttons">
					<button class="btn btn-small" type="button" disabled={!p.page || p.list.loading} onClick={p.back} data-testid={`${testid}-prev`}>Previous</button>
					<button class="btn btn-small" type="button" disabled={p.next == null || p.list.loading} onClick={p.forward} data-testid={`${testid}-next`}>Next</button>
				</div>
			) : null}
		</>
	);
}

export function Loading({ what = 'Loading' }) {
	return <p class="muted" aria-busy="true">{what}…</p>;
}

// The window's title (the tab, the history, what a screen reader says
// first): what the page is, then the app (WCAG 2.4.2). One title for
// every page left them all "tern admin", the account portal too.
export function useTitle(title, app = 'tern admin') {
	useEffect(() => { document.title = title ? `${title} – ${app}` : app; }, [title, app]);
}

// A page section heading that is focused on navigation so screen readers
// announce the new page; it names the window too.
export function PageTitle({ children }) {
	const ref = useRef(null);
	useEffect(() => { ref.current && ref.current.focus(); }, []);
	useEffect(() => {
		if (ref.current)
			document.title = `${ref.current.textContent.trim()} – tern admin`;
	}, [children]);
	return <h1 tabIndex={-1} ref={ref}>{children}</h1>;
}
