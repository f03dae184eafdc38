// axe.mjs - runs axe-core (Deque's accessibility engine, pinned in
// package.json) on the page as it is now and sorts what it finds by
// impact. The rules are WCAG 2.0, 2.1 and 2.2 levels A and AA plus axe's
// best practices (landmarks, one h1, ...); colour contrast is checked in
// the light and in the dark colour scheme, since style.css has both.
//
// axe is evaluated in the page over the DevTools protocol: the server's
// Content-Security-Policy forbids inline scripts, and the page must stay
// under the same CSP as in production, so no script tag is added.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const source = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'];

// Whether an impact fails the test (WCAG 2.2 AA: serious and critical).
export const blocking = (impact) => impact === 'serious' || impact === 'critical';

// Rules whose "needs review" answer is a violation here: axe is unsure
// of a name on an element whose role takes none only because the element
// is focusable (a scrolling <pre tabindex=0 aria-label>); a screen reader
// still ignores the name.
const REVIEW = ['aria-prohibited-attr'];

// In the page: axe's violations on the document, as plain data.
async function run([tags, rules, review]) {
	const r = await window.axe.run(document, rules ? { runOnly: { type: 'rule', values: rules } } : { runOnly: { type: 'tag', values: tags } });
	return r.violations.concat(r.incomplete.filter((v) => review.includes(v.id))).map((v) => ({
		id: v.id, impact: v.impact || 'serious', help: v.help,
		nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${(n.failureSummary || n.html).replace(/\s+/g, ' ').slice(0, 300)}`),
	}));
}

// axe's violations on the page now: [{id, impact, help, nodes, scheme}].
// The page's colour scheme is light again afterwards.
export async function audit(page) {
	if (!(await page.evaluate(() => typeof window.axe === 'object')))
		await page.evaluate(source);
	const found = (await page.evaluate(run, [TAGS, null, REVIEW])).map((v) => ({ ...v, scheme: 'light' }));
	await page.emulateMedia({ colorScheme: 'dark' });
	try {
		for (const v of await page.evaluate(run, [null, ['color-contrast'], []]))
			found.push({ ...v, scheme: 'dark' });
	} finally {
		await page.emulateMedia({ colorScheme: 'light' });
	}
	return found;
}
