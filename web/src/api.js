// api.js - the only way the UI talks to the server: JSON over /api/v1
// (app/http/API.md). Keeps the CSRF token of the session (from POST or GET
// /session) in memory only - the session cookie itself is HttpOnly and
// never visible here - and the wizard's one-time setup code.
//
// A call that a signed-in page makes and the server answers 401 (the
// session expired or was ended elsewhere) is not lost: the page's
// unauthorized handler signs in again (a dialog over the page, app.jsx
// and portal.jsx) and the call is sent again with the new session's CSRF
// token, so what the user typed is saved; the failure is thrown only when
// they cancel.

let csrf = null;
let setupCode = null;
let onUnauthorized = null;
let signingIn = null;
let csrfFrom = null;

export class ApiError extends Error {
	constructor(status, problem) {
		const p = problem || {};
		super(p.detail || p.title || `HTTP ${status}`);
		this.status = status;
		this.code = p.code || '';
		this.field = p.field || '';
		this.retryAfter = 0;
	}
}

export function setCsrf(token) {
	csrf = token || null;
}

// Whether this page holds a session (its CSRF token): a 401 then means
// that session ended, not that the user has yet to sign in.
export const signedIn = () => csrf !== null;

export function setSetupCode(code) {
	setupCode = code || null;
}

// fn() is called when a call answers 401: it returns (or resolves to)
// true once the user signed in again - the call is then retried - and
// false to give up (the app shows its login page).
export function setUnauthorizedHandler(fn) {
	onUnauthorized = fn;
}

// One sign-in for every call that fails while it is open (a page's load
// and its save, a poll): they all wait for it and retry after it. sent:
// the CSRF token the failed call carried. A sign-in in another tab ends
// the session this page's calls were sent with (the server ends the one
// the cookie named) and sets the cookie to a new one: a call in flight
// then answers 401 although the browser holds a live session. That is
// asked first, and the call goes again with the new session's token; a
// session whose token is the one sent has ended, and the user signs in.
function signInAgain(sent) {
	if (!onUnauthorized)
		return Promise.resolve(false);
	if (!signingIn)
		signingIn = liveCsrf()
			.then((token) => {
				if (token && token !== sent) {
					csrf = token;
					return true;
				}
				return onUnauthorized();
			})
			.then((ok) => !!ok, () => false)
			.finally(() => { signingIn = null; });
	return signingIn;
}

// The CSRF token of the session the browser's cookie names now, or null
// when there is none. A bare fetch: api() would answer a 401 here by
// signing in again, which is what this decides.
async function liveCsrf() {
	if (!csrfFrom)
		return null;
	try {
		const r = await fetch('/api/v1' + csrfFrom, {
			headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store',
		});
		const s = r.ok ? await r.json() : null;
		return (s && s.csrf) || null;
	} catch (e) {
		return null;
	}
}

// The GET whose answer carries the session's CSRF token ('/session' for
// the admin, '/me' for the portal). Another tab that signed in again
// changed the session cookie under this one: its next write answers 403
// csrf with the token kept here, so api() reads the current one there and
// sends the write once more.
export function setCsrfSource(path) {
	csrfFrom = path;
}

async function freshCsrf(sent) {
	if (!csrfFrom)
		return false;
	try {
		const s = await api('GET', csrfFrom);
		if (!s || !s.csrf || s.csrf === sent)
			return false;
		csrf = s.csrf;
		return true;
	} catch (e) {
		return false;
	}
}

// The sign-in calls themselves answer 401 for a wrong password: that is
// their answer, not an expired session.
const signInPath = (path) => path === '/session' || path === '/me/session';

// An admin route's answer to a browser that holds no admin session but
// an account's portal one (same site, another cookie): 403 forbidden,
// known but not allowed. For the admin pages it means what 401 does:
// sign in as the admin. (A portal route never answers it.)
export const needsSignIn = (e) =>
	e.status === 401 || (e.status === 403 && e.code === 'forbidden');

// Whether a call that failed with err is to be sent again, for api() and
// upload() alike: after the user signed in again (401, or the 403 above,
// on a signed-in page), or once with the session's current CSRF token
// (403 csrf, when another tab signed in again; retry is false on that
// second try).
async function sendAgain(err, path, sent, retry) {
	if (needsSignIn(err) && !signInPath(path))
		return signInAgain(sent);
	if (err.status === 403 && err.code === 'csrf' && retry)
		return freshCsrf(sent);
	return false;
}

// retry: false on the second try after a stale CSRF token (one retry).
export async function api(method, path, body, retry = true) {
	const headers = { Accept: 'application/json, application/problem+json' };
	if (body !== undefined)
		headers['Content-Type'] = 'application/json';
	const sent = csrf;
	if (method !== 'GET' && method !== 'HEAD' && sent)
		headers['X-CSRF-Token'] = sent;
	if (setupCode && path.startsWith('/setup'))
		headers['X-Setup-Code'] = setupCode;
	let r;
	try {
		r = await fetch('/api/v1' + path, {
			method,
			headers,
			body: body === undefined ? undefined : JSON.stringify(body),
			credentials: 'same-origin',
			cache: 'no-store',
		});
	} catch (e) {
		throw new ApiError(0, { detail: 'The server cannot be reached.' });
	}
	if (r.status === 204)
		return null;
	const type = r.headers.get('Content-Type') || '';
	const data = type.includes('json') ? await r.json().catch(() => null) : null;
	if (!r.ok) {
		const err = new ApiError(r.status, data);
		err.retryAfter = Number(r.headers.get('Retry-After')) || 0;
		if (await sendAgain(err, path, sent, retry))
			return api(method, path, body, r.status !== 403);
		throw err;
	}
	return data;
}

// POSTs a file as the raw request body (a streamed upload on the server,
// app/http/http_upload.h), reporting progress as onProgress(sent, total).
// fetch() cannot tell how much of a body went out, so this is the one
// place that uses XMLHttpRequest; errors are ApiErrors as with api(), and
// sent again as api() sends them (a File can be read again: the upload
// starts over).
export function upload(path, file, onProgress, method = 'POST', retry = true) {
	return new Promise((resolve, reject) => {
		const x = new XMLHttpRequest();
		const sent = csrf;
		x.open(method, '/api/v1' + path);
		x.setRequestHeader('Accept', 'application/json, application/problem+json');
		x.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
		if (sent)
			x.setRequestHeader('X-CSRF-Token', sent);
		x.withCredentials = true;
		if (onProgress)
			x.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
		x.onerror = () => reject(new ApiError(0, { detail: 'The server cannot be reached.' }));
		x.onload = () => {
			let data = null;
			if ((x.getResponseHeader('Content-Type') || '').includes('json'))
				try {
					data = JSON.parse(x.responseText);
				} catch (e) {
					data = null;
				}
			if (x.status >= 200 && x.status < 300) {
				resolve(data);
				return;
			}
			const err = new ApiError(x.status, data);
			sendAgain(err, path, sent, retry)
				.then((again) => (again ? upload(path, file, onProgress, method, x.status !== 403) : Promise.reject(err)))
				.then(resolve, reject);
		};
		x.send(file);
	});
}

export const get = (path) => api('GET', path);
export const post = (path, body = {}) => api('POST', path, body);
export const put = (path, body) => api('PUT', path, body);
export const patch = (path, body) => api('PATCH', path, body);
export const del = (path, body) => api('DELETE', path, body);

// Every item of a paged listing (API.md "Pages"): walks its pages of
// 1,000 by their `next` cursor, for a page that needs the whole set (the
// Aliases page's domains). One unpaged GET stops at the first 1,000.
export async function getAll(path, key) {
	let items = [];
	let after = null;
	do {
		const d = await get(`${path}?limit=1000${after != null ? `&after=${encodeURIComponent(after)}` : ''}`);
		items = items.concat((d && d[key]) || []);
		after = (d && d.next) ?? null;
	} while (after != null);
	return items;
}

// Path segment for a name (domain, address, alias, id).
export const seg = (s) => encodeURIComponent(s);

// Text for an error shown to the user.
export function errorText(e) {
	if (!(e instanceof ApiError))
		return String(e && e.message ? e.message : e);
	if (e.code === 'rate_limited')
		return `Too many failed attempts. Try again in ${Math.ceil((e.retryAfter || 900) / 60)} minutes.`;
	// A signed-in page's call after its session ended and the sign-in
	// dialog was dismissed (the sign-in forms say "Wrong password" instead).
	if (e.status === 401 && e.code === 'unauthorized')
		return 'Your session has ended. Try again to sign in: what you entered is kept.';
	if (e.code === 'not_implemented')
		return 'Not available in this build of tern.';
	if (e.status === 404 && !e.code)
		return 'This server does not offer that API yet.';
	// No problem document: not tern's answer but a proxy's in front of it
	// (its HTML page for 502, 503, 504), which "HTTP 502" alone does not
	// explain. tern's own 503 and 507 carry their detail.
	if (!e.code && e.status === 507)
		return 'The server\'s disk is full: free some space, then try again.';
	if (!e.code && e.status >= 500)
		return `The server is not answering right now (HTTP ${e.status}): it may be restarting. Try again in a moment.`;
	return e.message;
}
