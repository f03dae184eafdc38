// Entry point of the tern admin UI: mounts the app into index.html's #app.
import { render } from 'preact';
import { App } from './app.jsx';
import './style.css';

render(<App />, document.getElementById('app'));
