// layout.mjs - the one overflow check of the browser tests (wizard.mjs for
// the admin pages, portal.mjs for /account): at the page's current width,
// nothing may stick out to the right, and no table may scroll sideways
// inside its box (that hides its right-hand cells just as well). Returns
// null, or a sentence naming up to five elements that stick out.
export async function overflow(page) {
	return page.evaluate(() => {
		const w = document.documentElement.clientWidth;
		for (const el of document.querySelectorAll('main .table-wrap'))
			if (el.scrollWidth > el.clientWidth + 1)
				return `${el.querySelector('table')?.dataset.testid || 'a table'} scrolls sideways: ${el.scrollWidth} > ${el.clientWidth}`;
		if (document.documentElement.scrollWidth <= w + 1)
			return null;
		const out = [];
		for (const el of document.querySelectorAll('main *')) {
			const r = el.getBoundingClientRect();
			if (r.right > w + 1 && out.length < 5)
				out.push(`${el.tagName.toLowerCase()}.${el.className || ''}[${el.dataset.testid || ''}] right=${Math.round(r.right)}`);
		}
		return `scrollWidth ${document.documentElement.scrollWidth} > ${w}: ${out.join(', ')}`;
	});
}
