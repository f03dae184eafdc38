// format.js - numbers and times for people.

export function bytes(n) {
	if (n === null || n === undefined)
		return '–';
	const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
	let i = 0;
	let v = n;
	while (v >= 1024 && i < units.length - 1) {
		v /= 1024;
		i++;
	}
	return (i === 0 ? String(v) : v.toFixed(v < 10 ? 1 : 0)) + ' ' + units[i];
}

export function dateTime(secs) {
	if (!secs)
		return '–';
	return new Date(secs * 1000).toLocaleString();
}

export function duration(secs) {
	const d = Math.floor(secs / 86400);
	const h = Math.floor((secs % 86400) / 3600);
	const m = Math.floor((secs % 3600) / 60);
	if (d)
		return `${d} d ${h} h`;
	if (h)
		return `${h} h ${m} min`;
	return `${m} min`;
}
