// chart.jsx - messages received and sent per hour as a small inline SVG
// bar chart (no chart library: two bars per hour and an axis are enough).
// The numbers are also in a table for screen readers.

const W = 480;
const H = 160;
const PAD_L = 32;
const PAD_B = 20;
const PAD_T = 8;

function hourLabel(start) {
	return String(new Date(start * 1000).getHours()).padStart(2, '0') + ':00';
}

export function HourChart({ hours }) {
	const data = hours || [];
	const max = Math.max(1, ...data.map((h) => Math.max(h.received || 0, h.sent || 0)));
	const plotW = W - PAD_L - 4;
	const plotH = H - PAD_B - PAD_T;
	const slot = data.length ? plotW / data.length : plotW;
	const barW = Math.max(1, slot / 2 - 1);
	const y = (v) => PAD_T + plotH - (v / max) * plotH;
	const totalIn = data.reduce((n, h) => n + (h.received || 0), 0);
	const totalOut = data.reduce((n, h) => n + (h.sent || 0), 0);
	return (
		<figure class="chart" data-testid="hour-chart">
			<svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Messages per hour over the last ${data.length} hours: ${totalIn} received, ${totalOut} sent`}>
				<line x1={PAD_L} y1={PAD_T + plotH} x2={W - 4} y2={PAD_T + plotH} class="axis" />
				<line x1={PAD_L} y1={PAD_T} x2={PAD_L} y2={PAD_T + plotH} class="axis" />
				<text x={PAD_L - 4} y={PAD_T + 8} class="tick" text-anchor="end">{max}</text>
				<text x={PAD_L - 4} y={PAD_T + plotH} class="tick" text-anchor="end">0</text>
				{data.map((h, i) => {
					const x = PAD_L + 1 + i * slot;
					return (
						<g key={h.start}>
							<rect x={x} y={y(h.received || 0)} width={barW} height={PAD_T + plotH - y(h.received || 0)} class="bar-in">
								<title>{`${hourLabel(h.start)}: ${h.received || 0} received`}</title>
							</rect>
							<rect x={x + barW} y={y(h.sent || 0)} width={barW} height={PAD_T + plotH - y(h.sent || 0)} class="bar-out">
								<title>{`${hourLabel(h.start)}: ${h.sent || 0} sent`}</title>
							</rect>
							{i % 6 === 0 ? <text x={x} y={H - 4} class="tick">{hourLabel(h.start)}</text> : null}
						</g>
					);
				})}
			</svg>
			<figcaption>
				<span class="key key-in" aria-hidden="true" /> received ({totalIn})
				<span class="key key-out" aria-hidden="true" /> sent ({totalOut}) per hour, last {data.length} hours
			</figcaption>
			<table class="offscreen">
				<caption>Messages per hour</caption>
				<thead><tr><th scope="col">Hour</th><th scope="col">Received</th><th scope="col">Sent</th></tr></thead>
				<tbody>
					{data.map((h) => <tr key={h.start}><td>{hourLabel(h.start)}</td><td>{h.received || 0}</td><td>{h.sent || 0}</td></tr>)}
				</tbody>
			</table>
		</figure>
	);
}
