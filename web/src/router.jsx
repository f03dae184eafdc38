// router.js - history-API routing. The server answers every unknown GET
// with index.html, so deep links and reloads work.
import { useEffect, useState } from 'preact/hooks';

export function navigate(to, replace = false) {
	if (to === location.pathname)
		return;
	if (replace)
		history.replaceState(null, '', to);
	else
		history.pushState(null, '', to);
	dispatchEvent(new PopStateEvent('popstate'));
}

export function usePath() {
	const [path, setPath] = useState(location.pathname);
	useEffect(() => {
		const update = () => setPath(location.pathname);
		addEventListener('popstate', update);
		return () => removeEventListener('popstate', update);
	}, []);
	return path;
}

// An in-app link: a real <a href> (open in new tab still works), routed
// without a page load on a plain click.
export function Link({ href, children, ...rest }) {
	const click = (e) => {
		if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey)
			return;
		e.preventDefault();
		navigate(href);
	};
	return <a href={href} onClick={click} {...rest}>{children}</a>;
}
