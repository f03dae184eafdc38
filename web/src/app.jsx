// The app shell: decides between the first-run wizard, the login page and
// the admin pages from what the server says (GET /setup, GET /session).
export function App() {
	return <main><h1>tern</h1></main>;
}
