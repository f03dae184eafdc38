// qr.js - a QR code encoder (ISO/IEC 18004) for the few texts the UI
// shows as codes: otpauth:// URIs for authenticator apps and the portal's
// link for phones. Written for tern from the standard: byte mode only,
// error correction level M, versions 1 to 15 (up to 412 bytes), the mask
// with the lowest penalty. qrMatrix(text) returns rows of booleans (true =
// dark), without the quiet zone; the caller draws it (QrCode in
// components.jsx) with four modules of margin.

// Per version 1..15, level M: error correction codewords per block, and
// the number of blocks (ISO/IEC 18004 table 9).
const ECC_M = [10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24];
const BLOCKS_M = [1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10];
// Alignment pattern centres per version (annex E).
const ALIGN = [[], [6, 18], [6, 22], [6, 26], [6, 30], [6, 34], [6, 22, 38], [6, 24, 42],
	[6, 26, 46], [6, 28, 50], [6, 30, 54], [6, 32, 58], [6, 34, 62], [6, 26, 46, 66], [6, 26, 48, 70]];

// Codewords (data + ecc) each version holds (table 1).
const TOTAL = [26, 44, 70, 100, 134, 172, 196, 242, 292, 346, 404, 466, 532, 581, 655];
const totalCodewords = (v) => TOTAL[v - 1];

// GF(256) with the polynomial x^8 + x^4 + x^3 + x^2 + 1.
const EXP = new Array(512);
const LOG = new Array(256);
(function () {
	let x = 1;
	for (let i = 0; i < 255; i++) {
		EXP[i] = x;
		LOG[x] = i;
		x <<= 1;
		if (x & 0x100)
			x ^= 0x11d;
	}
	for (let i = 255; i < 512; i++)
		EXP[i] = EXP[i - 255];
})();
const mul = (a, b) => (a && b ? EXP[LOG[a] + LOG[b]] : 0);

// The generator polynomial of degree n (coefficients after the leading 1).
function generator(n) {
	let g = [1];
	for (let i = 0; i < n; i++) {
		const next = new Array(g.length + 1).fill(0);
		for (let j = 0; j < g.length; j++) {
			next[j] ^= g[j];
			next[j + 1] ^= mul(g[j], EXP[i]);
		}
		g = next;
	}
	return g.slice(1);
}

// The n error correction codewords of data (the remainder of the division).
function reedSolomon(data, n) {
	const g = generator(n);
	const rem = new Array(n).fill(0);
	for (const b of data) {
		const f = b ^ rem.shift();
		rem.push(0);
		for (let i = 0; i < n; i++)
			rem[i] ^= mul(g[i], f);
	}
	return rem;
}

// The data codewords: mode, count, bytes, terminator, padding.
function dataCodewords(bytes, v, capacity) {
	const bits = [];
	const put = (val, len) => {
		for (let i = len - 1; i >= 0; i--)
			bits.push((val >>> i) & 1);
	};
	put(4, 4); // byte mode
	put(bytes.length, v < 10 ? 8 : 16);
	for (const b of bytes)
		put(b, 8);
	put(0, Math.min(4, capacity * 8 - bits.length));
	while (bits.length % 8)
		bits.push(0);
	const out = [];
	for (let i = 0; i < bits.length; i += 8)
		out.push(bits.slice(i, i + 8).reduce((a, b) => (a << 1) | b, 0));
	for (let pad = 0xec; out.length < capacity; pad ^= 0xec ^ 0x11)
		out.push(pad);
	return out;
}

// Splits into blocks, adds each block's ecc, interleaves (section 7.6).
function interleave(data, v) {
	const nb = BLOCKS_M[v - 1], ecc = ECC_M[v - 1], total = totalCodewords(v);
	const shortLen = Math.floor(total / nb) - ecc, longBlocks = total % nb;
	const blocks = [], eccs = [];
	let k = 0;
	for (let i = 0; i < nb; i++) {
		const len = shortLen + (i >= nb - longBlocks ? 1 : 0);
		const b = data.slice(k, k + len);
		k += len;
		blocks.push(b);
		eccs.push(reedSolomon(b, ecc));
	}
	const out = [];
	for (let i = 0; i <= shortLen; i++)
		for (const b of blocks)
			if (i < b.length)
				out.push(b[i]);
	for (let i = 0; i < ecc; i++)
		for (const e of eccs)
			out.push(e[i]);
	return out;
}

// BCH remainder of value (already shifted) by poly of degree deg.
function bch(value, poly, deg) {
	let r = value;
	for (let i = 31 - Math.clz32(r); i >= deg; i = 31 - Math.clz32(r))
		r ^= poly << (i - deg);
	return r;
}

function build(v) {
	const size = 4 * v + 17;
	const m = Array.from({ length: size }, () => new Array(size).fill(false));
	const fn = Array.from({ length: size }, () => new Array(size).fill(false));
	const set = (x, y, dark) => {
		m[y][x] = dark;
		fn[y][x] = true;
	};
	// Finder patterns with their separators.
	for (const [cx, cy] of [[3, 3], [size - 4, 3], [3, size - 4]])
		for (let dy = -4; dy <= 4; dy++)
			for (let dx = -4; dx <= 4; dx++) {
				const x = cx + dx, y = cy + dy;
				if (x < 0 || y < 0 || x >= size || y >= size)
					continue;
				const d = Math.max(Math.abs(dx), Math.abs(dy));
				set(x, y, d !== 2 && d !== 4);
			}
	// Timing patterns.
	for (let i = 8; i < size - 8; i++) {
		set(6, i, i % 2 === 0);
		set(i, 6, i % 2 === 0);
	}
	// Alignment patterns, except where a finder is.
	const al = ALIGN[v - 1];
	for (const ay of al)
		for (const ax of al) {
			if ((ax === 6 && ay === 6) || (ax === 6 && ay === size - 7) || (ax === size - 7 && ay === 6))
				continue;
			for (let dy = -2; dy <= 2; dy++)
				for (let dx = -2; dx <= 2; dx++)
					set(ax + dx, ay + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
		}
	// Format areas reserved now (written per mask), the dark module.
	for (let i = 0; i < 9; i++) {
		fn[8][i] = fn[i][8] = true;
	}
	for (let i = 0; i < 8; i++) {
		fn[8][size - 1 - i] = fn[size - 1 - i][8] = true;
	}
	set(8, size - 8, true);
	// Version information (versions 7 and up).
	if (v >= 7) {
		const bits = (v << 12) | bch(v << 12, 0x1f25, 12);
		for (let i = 0; i < 18; i++) {
			const dark = ((bits >>> i) & 1) === 1;
			const a = size - 11 + (i % 3), b = Math.floor(i / 3);
			set(a, b, dark);
			set(b, a, dark);
		}
	}
	return { size, m, fn };
}

function place(q, codewords) {
	const { size, m, fn } = q;
	let i = 0;
	const nbits = codewords.length * 8;
	for (let right = size - 1; right >= 1; right -= 2) {
		if (right === 6)
			right = 5;
		const upward = ((right + 1) & 2) === 0;
		for (let vert = 0; vert < size; vert++)
			for (let j = 0; j < 2; j++) {
				const x = right - j, y = upward ? size - 1 - vert : vert;
				if (fn[y][x])
					continue;
				m[y][x] = i < nbits && ((codewords[i >>> 3] >>> (7 - (i & 7))) & 1) === 1;
				i++;
			}
	}
}

const MASKS = [
	(x, y) => (x + y) % 2 === 0,
	(x, y) => y % 2 === 0,
	(x) => x % 3 === 0,
	(x, y) => (x + y) % 3 === 0,
	(x, y) => (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0,
	(x, y) => ((x * y) % 2) + ((x * y) % 3) === 0,
	(x, y) => (((x * y) % 2) + ((x * y) % 3)) % 2 === 0,
	(x, y) => (((x + y) % 2) + ((x * y) % 3)) % 2 === 0,
];

function applyMask(q, k) {
	const { size, m, fn } = q;
	for (let y = 0; y < size; y++)
		for (let x = 0; x < size; x++)
			if (!fn[y][x] && MASKS[k](x, y))
				m[y][x] = !m[y][x];
}

function drawFormat(q, k) {
	const { size, m } = q;
	const data = (0 << 3) | k; // level M is 00
	const bits = ((data << 10) | bch(data << 10, 0x537, 10)) ^ 0x5412;
	const bit = (i) => ((bits >>> i) & 1) === 1;
	for (let i = 0; i <= 5; i++)
		m[i][8] = bit(i);
	m[7][8] = bit(6);
	m[8][8] = bit(7);
	m[8][7] = bit(8);
	for (let i = 9; i < 15; i++)
		m[8][14 - i] = bit(i);
	for (let i = 0; i < 8; i++)
		m[8][size - 1 - i] = bit(i);
	for (let i = 8; i < 15; i++)
		m[size - 15 + i][8] = bit(i);
	m[size - 8][8] = true;
}

// The penalty of section 7.8.3: runs, 2x2 blocks, finder-like patterns,
// dark/light balance. Lower reads better.
function penalty(q) {
	const { size, m } = q;
	let p = 0;
	const lineScore = (get) => {
		let s = 0;
		for (let a = 0; a < size; a++) {
			let run = 1;
			for (let b = 1; b <= size; b++) {
				if (b < size && get(a, b) === get(a, b - 1)) {
					run++;
					continue;
				}
				if (run >= 5)
					s += run - 2;
				run = 1;
			}
			for (let b = 0; b + 11 <= size; b++) {
				const w = [];
				for (let c = 0; c < 11; c++)
					w.push(get(a, b + c) ? 1 : 0);
				const str = w.join('');
				if (str === '10111010000' || str === '00001011101')
					s += 40;
			}
		}
		return s;
	};
	p += lineScore((a, b) => m[a][b]);
	p += lineScore((a, b) => m[b][a]);
	let dark = 0;
	for (let y = 0; y < size; y++)
		for (let x = 0; x < size; x++) {
			if (m[y][x])
				dark++;
			if (x + 1 < size && y + 1 < size && m[y][x] === m[y][x + 1] && m[y][x] === m[y + 1][x] &&
			    m[y][x] === m[y + 1][x + 1])
				p += 3;
		}
	p += Math.floor(Math.abs(dark * 20 - size * size * 10) / (size * size)) * 10;
	return p;
}

export function qrMatrix(text) {
	const bytes = Array.from(new TextEncoder().encode(text));
	let v = 1;
	for (; v <= 15; v++) {
		const cap = totalCodewords(v) - ECC_M[v - 1] * BLOCKS_M[v - 1];
		if (bytes.length + (v < 10 ? 2 : 3) <= cap)
			break;
	}
	if (v > 15)
		throw new Error('text too long for a QR code');
	const cap = totalCodewords(v) - ECC_M[v - 1] * BLOCKS_M[v - 1];
	const codewords = interleave(dataCodewords(bytes, v, cap), v);
	let best = null, bestScore = Infinity;
	for (let k = 0; k < 8; k++) {
		const q = build(v);
		place(q, codewords);
		applyMask(q, k);
		drawFormat(q, k);
		const s = penalty(q);
		if (s < bestScore) {
			bestScore = s;
			best = q;
		}
	}
	return best.m;
}
