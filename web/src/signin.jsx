// signin.jsx - signing in, once for the whole UI: the admin's login page
// (app.jsx), the account's (portal.jsx) and the dialog that either shows
// over a page whose session expired while it was open (api.js retries the
// call that failed once it is done). All post the same body to the same
// POST /session or /me/session, so the rate limits and the second factor
// (401 totp_required: ask for the code, then send both) are the server's
// one flow; the new session's CSRF token is kept here for the next call.
import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { post, setCsrf } from './api.js';
import { ErrorBox, Field, useAction } from './components.jsx';

// State and submit handler of a sign-in form posting to `path`; body() is
// the form's fields ({password} or {email, password}).
export function useSignIn(path, body, onSignedIn) {
	const [code, setCode] = useState('');
	const [askCode, setAskCode] = useState(false);
	const a = useAction();
	const submit = (e) => {
		e.preventDefault();
		a.run(async () => {
			const b = body();
			if (askCode)
				b.code = code.trim();
			try {
				const r = await post(path, b);
				setCsrf(r.csrf);
				onSignedIn();
			} catch (err) {
				if (err.code === 'totp_required') {
					setAskCode(true);
					return;
				}
				throw err;
			}
		});
	};
	return { code, setCode, askCode, busy: a.busy, error: a.error, submit };
}

// The error under a sign-in form; wrong401 is the words for a refused password.
export function signInError(error, wrong401) {
	if (!error)
		return null;
	if (error.code === 'wrong_code')
		return 'Wrong or already used code.';
	return error.status === 401 ? wrong401 : error;
}

// The code field, once the server asked for it. It takes the focus when it
// appears: autofocus acts only when a page loads or a dialog opens, and
// here the focus is still in the password field (a keyboard user would
// type the code there, then send it as the password).
export function CodeField({ s, testid }) {
	const ref = useRef(null);
	useLayoutEffect(() => {
		if (s.askCode && ref.current)
			ref.current.focus();
	}, [s.askCode]);
	return s.askCode ? <Field label="Code from the authenticator app (or a recovery code)" value={s.code} onInput={s.setCode}
		autoComplete="one-time-code" required testid={testid} inputRef={ref} /> : null;
}

// The modal dialog asking for the password again over the page (whose
// form keeps what was typed). `email` is the portal's account, shown and
// sent as it is; onDone(true) once signed in, onDone(false) when the user
// cancels with the button (the login page), onDone(null) when Escape
// dismisses it: only the dialog goes, the page stays with what was typed
// (Escape is pressed by reflex, to close a dialog, and must not throw a
// form away); the call that waited fails, and the next one that meets
// the ended session opens the dialog again. A native <dialog> opened with
// showModal(): the page behind is inert and focus moves to the password.
export function SignInDialog({ path, email, onDone }) {
	const ref = useRef(null);
	const [pw, setPw] = useState('');
	const s = useSignIn(path, () => (email ? { email, password: pw } : { password: pw }), () => onDone(true));
	// Focus goes back where it was (the field where Enter saved into the
	// ended session) when the dialog goes: removed while open, it left the
	// focus on the page's body. close() first: the page is inert while the
	// modal is open.
	useLayoutEffect(() => {
		const d = ref.current;
		const before = document.activeElement;
		if (d && !d.open)
			d.showModal();
		return () => {
			if (d && d.open)
				d.close();
			if (before && before.isConnected && before !== document.body)
				before.focus();
		};
	}, []);
	// The dialog's cancel event (Escape): unmounted by onDone, not closed
	// by the browser under Preact.
	const dismiss = (e) => {
		e.preventDefault();
		onDone(null);
	};
	return (
		<dialog ref={ref} class="card login relogin" aria-labelledby="relogin-title" aria-describedby="relogin-why"
			onCancel={dismiss} data-testid="relogin">
			<form onSubmit={s.submit}>
				<h2 id="relogin-title">Sign in again</h2>
				<p id="relogin-why">Your session has ended. Sign in to continue: what you entered on this page is kept.</p>
				{email ? <p class="muted">{email}</p> : null}
				<Field label={email ? 'Password' : 'Admin password'} type="password" value={pw} onInput={setPw}
					autoComplete="current-password" required autoFocus testid="relogin-password" />
				<CodeField s={s} testid="relogin-code" />
				<ErrorBox error={signInError(s.error, 'Wrong password.')} />
				<div class="buttons">
					<button class="btn btn-primary" type="submit" disabled={s.busy} data-testid="relogin-submit">Sign in</button>
					<button class="btn" type="button" onClick={() => onDone(false)} data-testid="relogin-cancel">Cancel</button>
				</div>
			</form>
		</dialog>
	);
}
