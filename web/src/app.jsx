// app.jsx - the app shell: asks the server where we are (GET /setup,
// GET /session) and shows the first-run wizard, the login page or the
// admin pages. A session that ends under the admin pages, or under the
// wizard once it signed in, is asked for again in the sign-in dialog
// over the page (signin.jsx), which keeps what was typed.
import { useEffect, useRef, useState } from 'preact/hooks';
import { del, get, needsSignIn, setCsrf, setCsrfSource, setUnauthorizedHandler, signedIn, errorText } from './api.js';
import { Link, navigate, usePath } from './router.jsx';
import { ErrorBox, Field, PageTitle, useTitle } from './components.jsx';
import { CodeField, SignInDialog, signInError, useSignIn } from './signin.jsx';
import { Wizard } from './wizard.jsx';
import { Dashboard } from './pages/dashboard.jsx';
import { Domains, DomainDetail } from './pages/domains.jsx';
import { Accounts } from './pages/accounts.jsx';
import { Aliases } from './pages/aliases.jsx';
import { Queue } from './pages/queue.jsx';
import { Backups } from './pages/backups.jsx';
import { Logs } from './pages/logs.jsx';
import { Settings } from './pages/settings.jsx';
import { Spam } from './pages/spam.jsx';
import { Portal } from './portal.jsx';

export function App() {
	// The account portal is an app of its own on the same listener.
	if (location.pathname === '/account' || location.pathname.startsWith('/account/'))
		return <Portal />;
	return <AdminApp />;
}

function AdminApp() {
	const [mode, setMode] = useState('loading');
	const [setup, setSetup] = useState(null);
	const [authed, setAuthed] = useState(false);
	const [error, setError] = useState(null);
	// The sign-in dialog over the admin pages while a call waits on it:
	// its resolve(signed in?) (api.js retries the call on true).
	const [relogin, setRelogin] = useState(null);
	const modeRef = useRef(mode);
	modeRef.current = mode;

	const boot = async () => {
		setError(null);
		try {
			const st = await get('/setup');
			let session = null;
			try {
				session = await get('/session');
			} catch (e) {
				if (!needsSignIn(e))
					throw e;
			}
			setCsrf(session && session.csrf);
			setAuthed(!!session);
			setSetup(st);
			setMode(!st.completed ? 'wizard' : session ? 'admin' : 'login');
		} catch (e) {
			setError(e);
			setMode('error');
		}
	};
	useEffect(() => {
		setCsrfSource('/session');
		setUnauthorizedHandler(() => {
			// The wizard's first steps have no session to lose (their
			// setup code or password is the sign-in).
			const m = modeRef.current;
			if (m !== 'admin' && !(m === 'wizard' && signedIn())) {
				setCsrf(null);
				return false;
			}
			return new Promise((resolve) => setRelogin({ resolve }));
		});
		boot();
	}, []);

	if (mode === 'loading')
		return <main class="center"><p class="muted" aria-busy="true">Loading…</p></main>;
	if (mode === 'error')
		return (
			<main class="center">
				<h1>tern admin</h1>
				<p class="alert alert-error" role="alert">{errorText(error)}</p>
				<button class="btn" onClick={boot}>Try again</button>
			</main>
		);
	if (mode === 'login')
		return <Login onLogin={() => setMode('admin')} />;
	// Cancelled: the login page, or the wizard from its sign-in step;
	// dismissed (null, Escape): the page as it is.
	const reloginDone = (ok) => {
		setRelogin(null);
		if (ok === false) {
			setCsrf(null);
			if (mode === 'wizard') {
				setMode('loading');
				boot();
			} else {
				setMode('login');
			}
		}
		relogin.resolve(!!ok);
	};
	// The page stays mounted under the dialog, with what was typed in it.
	const dialog = relogin ? <SignInDialog path="/session" onDone={reloginDone} /> : null;
	if (mode === 'wizard')
		return (
			<>
				<main class="center-wide"><Wizard initial={setup} authed={authed} onDone={() => { navigate('/', true); setMode('admin'); }} /></main>
				{dialog}
			</>
		);
	return (
		<>
			<Admin onLogout={() => setMode('login')} />
			{dialog}
		</>
	);
}

function Login({ onLogin }) {
	const [pw, setPw] = useState('');
	const s = useSignIn('/session', () => ({ password: pw }), onLogin);
	useTitle('Sign in');
	return (
		<main class="center">
			<form class="card login" onSubmit={s.submit} data-testid="login">
				<p class="brand">tern</p>
				<h1>Sign in</h1>
				<Field label="Admin password" type="password" value={pw} onInput={setPw} testid="login-password"
					autoComplete="current-password" required autoFocus />
				<CodeField s={s} testid="login-code" />
				<ErrorBox error={signInError(s.error, 'Wrong password.')} />
				<div class="buttons">
					<button class="btn btn-primary" type="submit" disabled={s.busy} data-testid="login-submit">Sign in</button>
				</div>
			</form>
		</main>
	);
}

const NAV = [
	['/', 'Dashboard'],
	['/domains', 'Domains'],
	['/accounts', 'Accounts'],
	['/aliases', 'Aliases'],
	['/queue', 'Queue'],
	['/backups', 'Backups'],
	['/spam', 'Spam'],
	['/logs', 'Logs'],
	['/settings', 'Settings'],
];

function Admin({ onLogout }) {
	const path = usePath();
	const logout = async () => {
		try {
			await del('/session');
		} catch (e) {
			/* gone already: the login page is right either way */
		}
		setCsrf(null);
		onLogout();
	};
	let page;
	const dm = path.match(/^\/domains\/([^/]+)$/);
	if (path === '/')
		page = <Dashboard />;
	else if (path === '/domains')
		page = <Domains />;
	else if (dm)
		page = <DomainDetail name={decodeURIComponent(dm[1])} />;
	else if (path === '/accounts')
		page = <Accounts />;
	else if (path === '/aliases')
		page = <Aliases />;
	else if (path === '/queue')
		page = <Queue />;
	else if (path === '/backups')
		page = <Backups />;
	else if (path === '/logs')
		page = <Logs />;
	else if (path === '/settings')
		page = <Settings />;
	else if (path === '/spam')
		page = <Spam />;
	else
		page = <NotFound />;
	const section = '/' + (path.split('/')[1] || '');
	return (
		<div class="admin">
			<a class="skip" href="#content">Skip to content</a>
			<header class="topbar">
				<span class="brand">tern</span>
				<nav aria-label="Main">
					<ul>
						{NAV.map(([href, label]) => (
							<li key={href}>
								<Link href={href} aria-current={section === href ? 'page' : undefined} data-testid={`nav-${label.toLowerCase()}`}>{label}</Link>
							</li>
						))}
					</ul>
				</nav>
				<button class="btn btn-small" onClick={logout} data-testid="logout">Sign out</button>
			</header>
			<main id="content" key={path}>{page}</main>
		</div>
	);
}

function NotFound() {
	return (
		<>
			<PageTitle>Not found</PageTitle>
			<p>There is no page here. <Link href="/">Back to the dashboard</Link>.</p>
		</>
	);
}
