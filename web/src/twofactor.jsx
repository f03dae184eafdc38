// twofactor.jsx - the QR code drawing and the two-factor (TOTP) card the
// admin's Settings and the account portal share: enrol (a QR code of the
// otpauth:// URI and the secret in words), confirm with a first code (the
// recovery codes are shown once), turn off with a code. Confirming and
// turning off also ask for the current password: the API refuses a
// session alone (api_totp.c). base is the API path: '/admin/totp' or
// '/me/totp'.
import { useState } from 'preact/hooks';
import { get, post } from './api.js';
import { CopyButton, ErrorBox, Field, Loading, Notice, useAction, useLoad } from './components.jsx';
import { qrMatrix } from './qr.js';

// An SVG QR code of text, four modules of quiet zone, one path.
export function QrCode({ text, size = 220, label, testid }) {
	const m = qrMatrix(text);
	const n = m.length + 8;
	let d = '';
	m.forEach((row, y) => row.forEach((dark, x) => {
		if (dark)
			d += `M${x + 4} ${y + 4}h1v1h-1z`;
	}));
	return (
		<svg class="qr" width={size} height={size} viewBox={`0 0 ${n} ${n}`} role="img" aria-label={label || 'QR code'}
			shape-rendering="crispEdges" data-testid={testid} data-text={text}>
			<rect width={n} height={n} fill="#fff" />
			<path d={d} fill="#000" />
		</svg>
	);
}

export function TwoFactor({ base, who }) {
	const st = useLoad(() => get(base));
	const [enrol, setEnrol] = useState(null);
	const [code, setCode] = useState('');
	const [password, setPassword] = useState('');
	const [codes, setCodes] = useState(null);
	const [msg, setMsg] = useState('');
	const a = useAction();
	const start = () => a.run(async () => {
		setMsg('');
		setCodes(null);
		setEnrol(await post(base));
	});
	const confirm = (e) => {
		e.preventDefault();
		a.run(async () => {
			const r = await post(`${base}/confirm`, { code: code.trim(), password });
			setCodes(r.recovery_codes);
			setEnrol(null);
			setCode('');
			setPassword('');
			st.reload();
		});
	};
	const disable = (e) => {
		e.preventDefault();
		a.run(async () => {
			await post(`${base}/disable`, { code: code.trim(), password });
			setCode('');
			setPassword('');
			setCodes(null);
			setMsg('Two-factor sign-in is off.');
			st.reload();
		});
	};
	const on = st.data && st.data.enabled;
	return (
		<section class="card" data-testid="totp-card">
			<h2>Two-factor sign-in</h2>
			{st.loading && !st.data ? <Loading /> : null}
			<ErrorBox error={st.error || (a.error && a.error.field !== 'code' && a.error.field !== 'password' ? a.error : null)} />
			{codes ? (
				<div data-testid="totp-recovery">
					<Notice>Two-factor sign-in is on. Keep these recovery codes somewhere safe: each one signs in once if the phone is lost. They are not shown again.</Notice>
					<ul class="codes">{codes.map((c) => <li key={c}><code>{c}</code></li>)}</ul>
					<CopyButton text={codes.join('\n')} label="Copy the codes" />
				</div>
			) : null}
			{st.data && !on && !enrol ? (
				<>
					<p>{who} signs in with a password only. With two-factor sign-in, an authenticator app's code is asked too{base === '/me/totp' ? ', and mail apps use app passwords' : ''}.</p>
					<Notice>{msg}</Notice>
					<button class="btn btn-primary" onClick={start} disabled={a.busy} data-testid="totp-start">Turn on two-factor sign-in</button>
				</>
			) : null}
			{enrol ? (
				<form onSubmit={confirm} data-testid="totp-enrol">
					<p>Scan this code with an authenticator app, or type the key in it, then enter the six digits it shows.</p>
					<QrCode text={enrol.uri} label="QR code for the authenticator app" testid="totp-qr" />
					<p>Key: <code data-testid="totp-secret">{enrol.secret}</code> <CopyButton text={enrol.secret} label="Copy the key" /></p>
					<Field label="Code from the app" value={code} onInput={setCode} inputMode="numeric" autoComplete="one-time-code"
						required testid="totp-code" error={a.error && a.error.field === 'code' ? a.error.message : undefined} />
					<Field label="Current password" type="password" value={password} onInput={setPassword} autoComplete="current-password"
						required testid="totp-password" error={a.error && a.error.field === 'password' ? a.error.message : undefined} />
					<div class="buttons"><button class="btn btn-primary" type="submit" disabled={a.busy} data-testid="totp-confirm">Confirm</button></div>
				</form>
			) : null}
			{on && !enrol ? (
				<form onSubmit={disable} class="inline-form">
					<p data-testid="totp-on">Two-factor sign-in is on.</p>
					<Field label="A code (or a recovery code) to turn it off" value={code} onInput={setCode} autoComplete="one-time-code"
						required testid="totp-off-code" error={a.error && a.error.field === 'code' ? a.error.message : undefined} />
					<Field label="Current password" type="password" value={password} onInput={setPassword} autoComplete="current-password"
						required testid="totp-off-password" error={a.error && a.error.field === 'password' ? a.error.message : undefined} />
					<button class="btn" type="submit" disabled={a.busy} data-testid="totp-disable">Turn off</button>
				</form>
			) : null}
		</section>
	);
}
