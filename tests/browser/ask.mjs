// ask.mjs - a browser test's question to the Python test that drives it
// (portal.mjs, wizard.mjs): the question goes out as one line on stdout,
// the answer comes back as one line on stdin. stdin is read only once a
// question is asked; a test that asks must end with process.exit() or
// process.stdin.destroy(), or node waits for more input.
import { createInterface } from 'node:readline';

let lines = null;

export async function ask(what) {
	if (!lines)
		lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
	process.stdout.write(what + '\n');
	const r = await lines.next();
	if (r.done)
		throw new Error(`no answer to ${what}`);
	return r.value.trim();
}

// "CHECK <what>": the Python side reads a change back through the REST
// API and answers OK, or what it found instead (spam.mjs, queue.mjs).
export async function check(what) {
	const answer = await ask(`CHECK ${what}`);
	if (answer !== 'OK')
		throw new Error(`${what}: ${answer}`);
}
