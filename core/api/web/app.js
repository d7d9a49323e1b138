/* The zrobot dashboard: one page over the robot's HTTP API (/v1/). No framework, no network
 * beyond this robot. Everything the robot sends (names, data, logs) is untrusted text: it is
 * only ever set with textContent or as SVG attributes, never parsed as HTML. */
'use strict';

const TOKEN_KEY = 'zrobot.token';
const SAMPLE_MS = 2000;   /* process/stats sampling while a service page is open */
const MAX_SAMPLES = 150;  /* about five minutes of chart */
const LOG_MAX = 200000;   /* characters of a task log kept on the page */

const S = {
	token: sessionStorage.getItem(TOKEN_KEY),
	manifests: new Map(),   /* template name -> manifest */
	services: new Map(),    /* "t/s" -> {info, state, last} */
	route: null,            /* {view, t, s} */
	lastSeq: 0,             /* the last event seen, for Last-Event-ID */
	robot: null,            /* the robot those events are from: {pid, started} */
	stream: null,           /* AbortController of the event stream */
	pending: new Map(),     /* "t/s" -> timer of a debounced refresh */
	svc: null,              /* the open service page: {t, s, manifest, samples, ...} */
	templatesTimer: null,   /* a debounced re-read of the templates after template.* events */
	graphTimer: null,       /* a debounced re-read of the graph after service and data events */
};

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
	const e = document.createElement(tag);
	if (text !== undefined && text !== null) {
		e.textContent = String(text);
	}
	if (cls) {
		e.className = cls;
	}
	return e;
}

function svgEl(tag, attrs) {
	const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		e.setAttribute(k, String(v));
	}
	return e;
}

function show(id, on) {
	$(id).hidden = !on;
}

function setError(id, msg) {
	$(id).textContent = msg || '';
	$(id).hidden = !msg;
}

/* A tree path as a URL: each name percent-encoded, so a name is never a query or a dot. */
function v1(...names) {
	return '/v1/' + names.map(encodeURIComponent).join('/');
}

class ApiError extends Error {
	constructor(status, detail) {
		super(status + ': ' + detail);
		this.status = status;
	}
}

/* One API call with the token. Returns the Response for 2xx; throws ApiError otherwise (a 401
 * means the token is no longer good: back to the login form). */
async function api(url, opts = {}) {
	const headers = Object.assign({}, opts.headers || {}, {Authorization: 'Bearer ' + S.token});
	const r = await fetch(url, Object.assign({}, opts, {headers, cache: 'no-store'}));
	if (r.ok) {
		return r;
	}
	let detail = r.statusText;
	try {
		const j = await r.json();
		detail = (j.error ? j.error + ': ' : '') + (j.detail || '');
	} catch (e) {
		/* not JSON: the status text says enough */
	}
	if (r.status === 401 && !opts.login) {
		logout('Your token was refused (401): log in again.');
	}
	throw new ApiError(r.status, detail);
}

async function getJSON(url) {
	return (await api(url)).json();
}

async function getText(url) {
	return (await api(url)).text();
}

async function listNames(url) {
	const j = await getJSON(url);
	return j.entries.map((e) => e.name);
}

/* ---- login ---- */

async function login(token) {
	S.token = token;
	try {
		const r = await api(v1('@robot', 'info'), {login: true});
		const info = await r.json();
		sessionStorage.setItem(TOKEN_KEY, token);
		S.robot = robotOf(info);
		$('robot-name').textContent = info.name || '';
		return true;
	} catch (e) {
		S.token = null;
		const why = e.status === 401
			? '401 Unauthorized: the robot does not know this token.'
			: 'Could not log in: ' + e.message;
		setError('login-error', why);
		return false;
	}
}

function logout(msg) {
	S.token = null;
	sessionStorage.removeItem(TOKEN_KEY);
	if (S.stream) {
		S.stream.abort();
		S.stream = null;
	}
	/* The next log in may reach another robot (restarted with a new token): start its
	 * events from their end again. */
	S.lastSeq = 0;
	S.robot = null;
	closeService();
	S.services.clear();
	S.manifests.clear();
	$('token').value = '';
	setError('login-error', msg || '');
	route();
}

/* ---- routing: #/, #/svc/T/S, #/graph ---- */

function parseRoute() {
	const h = location.hash.replace(/^#\/?/, '');
	let parts;
	try {
		parts = h.split('/').map(decodeURIComponent);
	} catch (e) {
		/* A malformed escape (a lone %, half a UTF-8 character): the overview, not an
		 * exception that leaves whatever view was shown, or the login form, on screen. */
		return {view: 'overview'};
	}
	if (parts[0] === 'svc' && parts.length === 3) {
		return {view: 'service', t: parts[1], s: parts[2]};
	}
	if (parts[0] === 'graph') {
		return {view: 'graph'};
	}
	return {view: 'overview'};
}

function route() {
	const views = ['login', 'overview', 'service', 'graph'];
	const r = S.token ? parseRoute() : {view: 'login'};
	S.route = r;
	for (const v of views) {
		show('view-' + v, v === r.view);
	}
	show('nav', !!S.token);
	if (r.view !== 'service') {
		closeService();
	}
	if (r.view === 'login') {
		$('token').focus();
		return;
	}
	startStream();
	if (r.view === 'overview') {
		loadOverview();
	} else if (r.view === 'service') {
		openService(r.t, r.s);
	} else {
		loadGraph();
	}
}

/* ---- overview ---- */

async function manifest(t) {
	if (!S.manifests.has(t)) {
		S.manifests.set(t, await getJSON(v1('@robot', 'templates', t, 'manifest')));
	}
	return S.manifests.get(t);
}

/* The worst value among a service's state lines. */
function worst(state) {
	const rank = {ok: 0, skipped: 0, warning: 1, error: 2};
	let w = 'ok';
	for (const line of state) {
		if ((rank[line.value] || 0) > rank[w]) {
			w = line.value;
		}
	}
	return state.length ? w : '-';
}

function parseState(text) {
	return text.split('\n').filter((l) => l.trim()).map((l) => {
		const [category, tag, value] = l.split(' ');
		return {category, tag, value};
	});
}

/* Reads what the overview shows of one service. */
async function fetchService(t, s) {
	const [info, state, tasks] = await Promise.all([
		getJSON(v1(t, s, 'info')),
		getText(v1(t, s, 'state')).then(parseState),
		listNames(v1(t, s, 'tasks')),
	]);
	const ids = tasks.filter((n) => /^[0-9]+$/.test(n)).map(Number).sort((a, b) => a - b);
	let last = null;
	if (ids.length) {
		const id = ids[ids.length - 1];
		const [action, tstate] = await Promise.all([
			getText(v1(t, s, 'tasks', String(id), 'action')),
			getText(v1(t, s, 'tasks', String(id), 'state')),
		]);
		last = {id, action: action.trim(), state: tstate.trim()};
	}
	return {t, s, info, state, last};
}

/* Reads the templates and their manifests into the overview's table; returns their names. */
async function loadTemplates() {
	const templates = await listNames(v1('@robot', 'templates'));
	const mans = await Promise.all(templates.map((t) => manifest(t).catch(() => null)));
	renderTemplates(templates, mans);
	return templates;
}

async function loadOverview() {
	setError('overview-error', '');
	try {
		const templates = await loadTemplates();
		const lists = await Promise.all(templates.map((t) =>
			listNames(v1(t)).catch(() => [])));
		const wanted = new Set();
		const reads = [];
		templates.forEach((t, i) => {
			for (const s of lists[i]) {
				wanted.add(t + '/' + s);
				reads.push(fetchService(t, s).catch(() => null));
			}
		});
		for (const key of [...S.services.keys()]) {
			if (!wanted.has(key)) {
				S.services.delete(key);
			}
		}
		for (const row of await Promise.all(reads)) {
			if (row) {
				S.services.set(row.t + '/' + row.s, row);
			}
		}
		renderServices();
	} catch (e) {
		setError('overview-error', 'Could not read the robot: ' + e.message);
	}
}

function renderTemplates(names, mans) {
	const tb = $('templates').tBodies[0];
	tb.replaceChildren();
	names.forEach((t, i) => {
		const m = mans[i] || {};
		const tr = el('tr');
		tr.append(el('th', t), el('td', m.version || ''), el('td', m.description || ''));
		const td = el('td');
		const b = el('button', 'New service');
		b.type = 'button';
		b.dataset.template = t;
		b.setAttribute('aria-label', 'New ' + t + ' service');
		b.addEventListener('click', () => openCreate(t, m));
		td.append(b);
		tr.append(td);
		tr.querySelector('th').scope = 'row';
		tb.append(tr);
	});
}

function renderServices() {
	const tb = $('services').tBodies[0];
	const rows = [...S.services.values()].sort((a, b) =>
		(a.t + '/' + a.s).localeCompare(b.t + '/' + b.s));
	tb.replaceChildren();
	for (const row of rows) {
		const tr = el('tr');
		tr.dataset.service = row.t + '/' + row.s;
		const th = el('th');
		th.scope = 'row';
		const a = el('a', row.t + '/' + row.s);
		a.href = '#/svc/' + encodeURIComponent(row.t) + '/' + encodeURIComponent(row.s);
		th.append(a);
		const w = worst(row.state);
		const proc = row.info.process ? row.info.process.state : '-';
		const last = row.last ? row.last.action + ' #' + row.last.id + ' ' + row.last.state : '-';
		tr.append(th, el('td', row.t + '@' + (row.info.version || '?')),
			el('td', w, 'v-' + w), el('td', proc, 'st-' + proc),
			el('td', last, row.last ? 'st-' + row.last.state : ''));
		tb.append(tr);
	}
	show('no-services', rows.length === 0);
}

/* Refreshes one service after an event: its overview row, and its page when it is open. */
function touch(key, ev) {
	if (ev.task !== undefined && S.svc && key === S.svc.t + '/' + S.svc.s) {
		S.svc.dirtyTasks.add(Number(ev.task));
	}
	const kinds = S.pending.get(key);
	if (kinds) {
		kinds.add(ev.event || '');
		return;
	}
	/* A task makes several events in a few ms (queued, started, state, finished): one
	 * refresh for the lot, of what any of them touched. */
	S.pending.set(key, new Set([ev.event || '']));
	setTimeout(() => {
		const touched = S.pending.get(key);
		S.pending.delete(key);
		const [t, s] = key.split('/');
		if (S.route.view === 'overview') {
			fetchService(t, s).then((row) => {
				S.services.set(key, row);
				renderServices();
			}, () => {
				S.services.delete(key);
				renderServices();
			});
		}
		if (S.svc && S.svc.t === t && S.svc.s === s) {
			refreshService(touched);
		}
	}, 150);
}

function openCreate(t, m) {
	const data = {};
	for (const [k, f] of Object.entries(m.data || {})) {
		if (f && f.default !== undefined) {
			data[k] = f.default;
		}
	}
	const f = $('create-form');
	f.dataset.template = t;
	$('create-title').textContent = 'New ' + t + ' service';
	$('create-name').value = '';
	$('create-data').value = JSON.stringify(data, null, 2);
	setError('create-error', '');
	f.hidden = false;
	f.scrollIntoView({block: 'nearest'});
	$('create-name').focus();
}

async function submitCreate(ev) {
	ev.preventDefault();
	const t = $('create-form').dataset.template;
	const name = $('create-name').value.trim();
	let data;
	try {
		data = JSON.parse($('create-data').value || '{}');
	} catch (e) {
		setError('create-error', 'The data is not JSON: ' + e.message);
		return;
	}
	try {
		await api(v1(t), {
			method: 'POST',
			headers: {'Content-Type': 'application/json'},
			body: JSON.stringify({name, data}),
		});
		$('create-form').hidden = true;
		location.hash = '#/svc/' + encodeURIComponent(t) + '/' + encodeURIComponent(name);
	} catch (e) {
		setError('create-error', 'Could not create ' + t + '/' + name + ': ' + e.message);
	}
}

/* ---- the event stream: fetch + a reader, since EventSource cannot send a token ---- */

function setLive(on, text) {
	$('live').textContent = text;
	$('live').classList.toggle('on', on);
}

function startStream() {
	if (S.stream || !S.token) {
		return;
	}
	S.stream = new AbortController();
	runStream(S.stream.signal);
}

/* The robot that answers: its pid and when it started (to the second). Event numbers
 * (Last-Event-ID) start again from 1 when the robot restarts: resuming from the old number
 * would skip the new robot's first events, or replay ones that never came. */
function robotOf(info) {
	return {pid: info.pid, started: Date.now() / 1000 - (Number(info.uptime) || 0)};
}

function sameRobot(a, b) {
	return !!a && !!b && a.pid === b.pid && Math.abs(a.started - b.started) < 5;
}

/* The number of the last event so far: a stream resumed from it sends only what comes next. */
async function eventsEnd(signal) {
	const r = await api(v1('@robot', 'events') + '?after=end', {method: 'HEAD', signal});
	return Number(r.headers.get('Zr-Lines')) || 0;
}

/* Reads again everything the open view shows (events were missed). */
function rereadView() {
	if (S.svc) {
		refreshService(null);
		refreshData(S.svc);
	} else {
		route();
	}
}

async function runStream(signal) {
	let delay = 500, retry = false;
	if (!S.lastSeq) {
		/* Start at the end: the page reads the present state itself. */
		try {
			S.lastSeq = await eventsEnd(signal);
		} catch (e) {
			/* the stream below reports it */
		}
	}
	while (!signal.aborted) {
		try {
			/* After a cut, the robot may be a new one (restarted): its events start from 1,
			 * and what changed while the page was away is read again. */
			let restarted = false;
			if (retry) {
				const now = robotOf(await getJSON(v1('@robot', 'info')));
				if (!sameRobot(now, S.robot)) {
					S.robot = now;
					S.lastSeq = await eventsEnd(signal);
					restarted = true;
				}
			}
			const r = await api(v1('@robot', 'events'), {
				signal,
				headers: {'Accept': 'text/event-stream',
					'Last-Event-ID': String(S.lastSeq)},
			});
			setLive(true, 'live');
			delay = 500;
			if (restarted) {
				rereadView();
			}
			retry = true;
			await readSSE(r.body.getReader(), onEvent);
		} catch (e) {
			if (signal.aborted) {
				return;
			}
		}
		retry = true;
		setLive(false, 'reconnecting');
		await new Promise((ok) => setTimeout(ok, delay));
		delay = Math.min(delay * 2, 10000);
	}
}

/* Parses Server-Sent Events from a byte stream reader: fields up to a blank line make one
 * event; comments (": keep-alive") are skipped. */
async function readSSE(reader, cb) {
	const dec = new TextDecoder();
	let buf = '';
	let ev = {data: [], id: null, event: 'message'};
	for (;;) {
		const {value, done} = await reader.read();
		if (done) {
			return;
		}
		buf += dec.decode(value, {stream: true});
		let nl;
		while ((nl = buf.search(/\r\n|\n|\r/)) >= 0) {
			const line = buf.slice(0, nl);
			buf = buf.slice(nl + (buf.startsWith('\r\n', nl) ? 2 : 1));
			if (line === '') {
				if (ev.data.length || ev.event !== 'message') {
					cb(ev.event, ev.data.join('\n'), ev.id);
				}
				ev = {data: [], id: null, event: 'message'};
				continue;
			}
			if (line.startsWith(':')) {
				continue;
			}
			const c = line.indexOf(':');
			const field = c < 0 ? line : line.slice(0, c);
			let val = c < 0 ? '' : line.slice(c + 1);
			if (val.startsWith(' ')) {
				val = val.slice(1);
			}
			if (field === 'data') {
				ev.data.push(val);
			} else if (field === 'id') {
				ev.id = val;
			} else if (field === 'event') {
				ev.event = val;
			}
		}
	}
}

function onEvent(type, data, id) {
	if (id && /^[0-9]+$/.test(id)) {
		S.lastSeq = Math.max(S.lastSeq, Number(id));
	}
	if (type === 'lost') {
		/* Events were dropped before we read them: read everything shown again. */
		rereadView();
		return;
	}
	let ev;
	try {
		ev = JSON.parse(data);
	} catch (e) {
		return;
	}
	document.body.dataset.lastEvent = String(ev.seq || '');
	if ((ev.event || '').startsWith('template.')) {
		if (ev.template) {
			S.manifests.delete(ev.template);
		}
		/* A repository brings its templates as a burst of events: one read for the lot. */
		if (S.route.view === 'overview' && !S.templatesTimer) {
			S.templatesTimer = setTimeout(() => {
				S.templatesTimer = null;
				loadTemplates().catch((e) => setError('overview-error',
					'Could not read the templates: ' + e.message));
			}, 150);
		}
		return;
	}
	/* The graph's edges come from services and their data (a consumer's producer is a data
	 * field): one read of @robot/graph per burst of such events. */
	if (S.route.view === 'graph' && !S.graphTimer &&
	    ((ev.event || '').startsWith('service.') || ev.event === 'data.changed')) {
		S.graphTimer = setTimeout(() => {
			S.graphTimer = null;
			if (S.route.view === 'graph') {
				loadGraph();
			}
		}, 150);
	}
	if (ev.event === 'service.created' || ev.event === 'service.deleted') {
		if (ev.event === 'service.deleted' && S.svc && ev.service === S.svc.t + '/' + S.svc.s) {
			/* Nothing left to read: the page says so and stops sampling. */
			clearInterval(S.svc.sampler);
			setError('svc-error', 'This service was deleted.');
			return;
		}
	}
	/* Only the service the event names is read again (its overview row: a created one is
	 * added, a deleted one, which reads as 404, removed), never every service. */
	if (ev.service && !ev.service.startsWith('@')) {
		touch(ev.service, ev);
	}
}

/* ---- a service's page ---- */

function closeService() {
	if (!S.svc) {
		return;
	}
	clearInterval(S.svc.sampler);
	if (S.svc.logCtl) {
		S.svc.logCtl.abort();
	}
	if (S.svc.resultCtl) {
		S.svc.resultCtl.abort();
	}
	S.svc = null;
}

async function openService(t, s) {
	if (S.svc && S.svc.t === t && S.svc.s === s) {
		return;
	}
	closeService();
	/* dirtyTasks: the tasks events named since the task list was last read. */
	S.svc = {t, s, samples: [], task: null, logCtl: null, resultCtl: null, sampler: null,
		dirtyTasks: new Set(), tasksRead: Promise.resolve()};
	const svc = S.svc;
	$('svc-title').textContent = t + '/' + s;
	for (const id of ['svc-summary', 'svc-actions', 'svc-process-status', 'task-log']) {
		$(id).replaceChildren();
	}
	for (const id of ['svc-state', 'svc-data', 'svc-tasks']) {
		$(id).tBodies[0].replaceChildren();
	}
	for (const id of ['chart-rss', 'chart-cpu']) {
		$(id).replaceChildren();
		$(id).dataset.samples = '0';
	}
	for (const id of ['action-form', 'action-result', 'task-log-box', 'svc-process',
		'svc-data-note']) {
		show(id, false);
	}
	setError('svc-error', '');
	try {
		svc.manifest = await manifest(t);
	} catch (e) {
		setError('svc-error', 'Could not read the template ' + t + ': ' + e.message);
		return;
	}
	renderActions(svc);
	await refreshService(null);
	if (S.svc !== svc) {
		return;
	}
	if (svc.manifest.process) {
		show('svc-process', true);
		sample(svc);
		svc.sampler = setInterval(() => sample(svc), SAMPLE_MS);
	}
	refreshData(svc);
}

/* Reads again what events touched: kinds is a Set of event names, or null for everything. */
async function refreshService(kinds) {
	const svc = S.svc;
	const any = (f) => !kinds || [...kinds].some(f);
	const jobs = [];
	if (any((k) => k.startsWith('process.') || k.startsWith('service.'))) {
		jobs.push(refreshInfo(svc));
	}
	if (any((k) => k === 'state.changed')) {
		jobs.push(refreshState(svc));
	}
	if (any((k) => k.startsWith('task.'))) {
		jobs.push(refreshTasks(svc, kinds ? svc.dirtyTasks : null));
	}
	if (kinds && any((k) => k.startsWith('data.'))) {
		jobs.push(refreshData(svc));
	}
	try {
		await Promise.all(jobs);
		if (!kinds && S.svc === svc) {
			setError('svc-error', '');  /* everything read again: an old error is over */
		}
	} catch (e) {
		if (S.svc === svc) {
			setError('svc-error', 'Could not read ' + svc.t + '/' + svc.s + ': ' + e.message);
		}
	}
}

async function refreshInfo(svc) {
	const info = await getJSON(v1(svc.t, svc.s, 'info'));
	if (S.svc !== svc) {
		return;
	}
	svc.info = info;
	const p = $('svc-summary');
	p.replaceChildren();
	p.append('Template ', el('strong', info.template + '@' + info.version),
		', created ' + (info.created || '?') + ' by ' + (info.creator || '?'));
	if (info.process) {
		p.append(', process ', el('strong', info.process.state, 'st-' + info.process.state));
	}
	if (info.process) {
		const st = await getText(v1(svc.t, svc.s, 'process', 'status')).catch(() => '');
		if (S.svc === svc) {
			$('svc-process-status').textContent = st;
		}
	}
}

async function refreshState(svc) {
	const state = parseState(await getText(v1(svc.t, svc.s, 'state')));
	if (S.svc !== svc) {
		return;
	}
	const tb = $('svc-state').tBodies[0];
	tb.replaceChildren();
	for (const l of state) {
		const tr = el('tr');
		tr.append(el('td', l.category), el('td', l.tag), el('td', l.value, 'v-' + l.value));
		tb.append(tr);
	}
	/* The summary line says the process state too: it follows the process.* events. */
	if (svc.info && svc.info.process) {
		refreshInfo(svc).catch(() => {});
	}
}

/* The template's schema says which fields are secret: those show *** whatever the token
 * (the API shows their values to the admin; the page never does). */
async function refreshData(svc) {
	const tb = $('svc-data').tBodies[0];
	let data;
	try {
		data = await getJSON(v1(svc.t, svc.s, 'data'));
	} catch (e) {
		if (S.svc === svc) {
			tb.replaceChildren();
			$('svc-data-note').textContent = e.status === 403
				? 'This token may not read the data.' : 'Could not read the data: ' + e.message;
			show('svc-data-note', true);
		}
		return;
	}
	if (S.svc !== svc) {
		return;
	}
	const schema = svc.manifest.data || {};
	tb.replaceChildren();
	for (const [k, v] of Object.entries(data)) {
		const secret = schema[k] && schema[k].secret;
		const tr = el('tr');
		tr.dataset.field = k;
		tr.append(el('th', k), el('td', secret ? '***' : JSON.stringify(v)));
		tr.firstChild.scope = 'row';
		tb.append(tr);
	}
}

/* Reads the last 20 tasks. dirty (a Set of task ids, emptied here) limits the reads to the
 * tasks events named, and the new ones: a task listed before and named by no event since is
 * unchanged. null reads them all. One read at a time, each from the last one's rows: reads
 * that overlap could end in the wrong order and leave a stale state that no event re-reads. */
function refreshTasks(svc, dirty) {
	const run = svc.tasksRead.then(() => readTasks(svc, dirty));
	svc.tasksRead = run.catch(() => {});
	return run;
}

async function readTasks(svc, dirty) {
	const touched = dirty ? new Set(dirty) : null;
	if (dirty) {
		dirty.clear();
	}
	const names = await listNames(v1(svc.t, svc.s, 'tasks'));
	const ids = names.filter((n) => /^[0-9]+$/.test(n)).map(Number).sort((a, b) => b - a);
	const shown = ids.slice(0, 20);
	const known = svc.tasks || new Map();
	const rows = await Promise.all(shown.map(async (id) => {
		const base = [svc.t, svc.s, 'tasks', String(id)];
		const had = known.get(id);
		if (had && touched) {
			/* Its action and creation time never change; its state may. */
			if (!touched.has(id)) {
				return had;
			}
			const state = await getText(v1(...base, 'state')).then((x) => x.trim(),
				() => had.state);
			return Object.assign({}, had, {state});
		}
		const [action, state, created] = await Promise.all(['action', 'state', 'created'].map(
			(f) => getText(v1(...base, f)).then((x) => x.trim(), () => '')));
		return {id, action, state, created};
	}));
	if (S.svc !== svc) {
		return;
	}
	svc.tasks = new Map(rows.map((r) => [r.id, r]));
	const tb = $('svc-tasks').tBodies[0];
	tb.replaceChildren();
	for (const r of rows) {
		const tr = el('tr');
		tr.dataset.task = String(r.id);
		tr.classList.toggle('selected', svc.task === r.id);
		const th = el('th');
		th.scope = 'row';
		const b = el('button', '#' + r.id);
		b.type = 'button';
		b.setAttribute('aria-label', 'Show the log of task ' + r.id);
		b.addEventListener('click', () => selectTask(svc, r.id));
		th.append(b);
		tr.append(th, el('td', r.action), el('td', r.state, 'st-' + r.state),
			el('td', r.created));
		tb.append(tr);
	}
}

/* fn's answer; a failure to reach the robot (a network blip, or a restart: 503 while it stops,
 * then no answer) is tried again every 2 s until it answers or ctl is aborted. Other HTTP
 * errors are thrown as they come. */
async function untilAnswer(ctl, fn) {
	for (;;) {
		try {
			return await fn();
		} catch (e) {
			if ((e instanceof ApiError && e.status !== 503) || ctl.signal.aborted) {
				throw e;
			}
		}
		await new Promise((ok) => setTimeout(ok, 2000));
	}
}

const ENDED = new Set(['ok', 'error', 'timeout', 'cancelled', 'interrupted', 'failed']);

/* Tails a task's log: long polls on ?after=N&wait=25 until the task ended and nothing is
 * left. */
async function selectTask(svc, id) {
	if (svc.logCtl) {
		svc.logCtl.abort();
	}
	const ctl = new AbortController();
	svc.logCtl = ctl;
	svc.task = id;
	for (const tr of $('svc-tasks').tBodies[0].rows) {
		tr.classList.toggle('selected', tr.dataset.task === String(id));
	}
	$('task-log-title').textContent = 'Log of task #' + id;
	const pre = $('task-log');
	pre.textContent = '';
	show('task-log-box', true);
	const base = [svc.t, svc.s, 'tasks', String(id)];
	let after = 0;
	try {
		/* A task that already ended has its whole log now: no need to wait for more. */
		const readState = () => untilAnswer(ctl, () => getText(v1(...base, 'state')));
		let ended = ENDED.has((await readState()).trim());
		for (;;) {
			const [r, text] = await untilAnswer(ctl, async () => {
				const r = await api(v1(...base, 'log') + '?after=' + after +
					(ended ? '' : '&wait=25'), {signal: ctl.signal});
				return [r, await r.text()];
			});
			if (ended) {
				pre.textContent = (pre.textContent + text).slice(-LOG_MAX);
				return;
			}
			if (r.status === 200) {
				after = Number(r.headers.get('Zr-Lines')) || after;
				pre.textContent = (pre.textContent + text).slice(-LOG_MAX);
				pre.scrollTop = pre.scrollHeight;
				continue;
			}
			/* Nothing new for a while: read the rest once the task ended. */
			ended = ENDED.has((await readState()).trim());
		}
	} catch (e) {
		if (!ctl.signal.aborted && S.svc === svc) {
			pre.textContent += '\n[log: ' + e.message + ']';
		}
	}
}

function renderActions(svc) {
	const box = $('svc-actions');
	box.replaceChildren();
	const actions = Object.keys(svc.manifest.actions || {});
	/* Servers get the built-in start, stop, restart and status where the template has none. */
	if (svc.manifest.process) {
		for (const a of ['start', 'stop', 'restart', 'status']) {
			if (!actions.includes(a)) {
				actions.push(a);
			}
		}
	}
	for (const a of actions) {
		const b = el('button', a);
		b.type = 'button';
		b.dataset.action = a;
		b.addEventListener('click', () => openAction(svc, a));
		box.append(b);
	}
}

/* One input per argument, from the action's args schema. */
function argInput(name, f, required) {
	const id = 'arg-' + name;
	const wrap = el('div');
	const label = el('label', name + (required ? ' (required)' : ''));
	label.htmlFor = id;
	let input;
	const type = f.type || 'string';
	if (Array.isArray(f.enum)) {
		input = el('select');
		if (!required) {
			input.append(el('option', ''));
		}
		for (const v of f.enum) {
			const o = el('option', String(v));
			o.value = JSON.stringify(v);
			o.selected = f.default !== undefined && v === f.default;
			input.append(o);
		}
	} else if (type === 'boolean') {
		input = el('input');
		input.type = 'checkbox';
		input.checked = f.default === true;
		label.className = 'check';
	} else if (type === 'array' || type === 'object') {
		input = el('textarea');
		input.rows = 3;
		input.value = f.default !== undefined ? JSON.stringify(f.default) : '';
		input.placeholder = type === 'array' ? '[...] (JSON)' : '{...} (JSON)';
	} else {
		input = el('input');
		input.type = type === 'integer' || type === 'number' ? 'number' : 'text';
		if (type === 'integer') {
			input.step = '1';
		} else if (type === 'number') {
			input.step = 'any';
		}
		if (f.minimum !== undefined) {
			input.min = String(f.minimum);
		}
		if (f.maximum !== undefined) {
			input.max = String(f.maximum);
		}
		if (f.secret) {
			input.type = 'password';
		}
		input.value = f.default !== undefined ? String(f.default) : '';
	}
	input.id = id;
	input.name = name;
	input.dataset.type = Array.isArray(f.enum) ? 'enum' : type;
	input.required = !!required && type !== 'boolean';
	if (f.description) {
		input.title = f.description;
	}
	if (type === 'boolean') {
		wrap.append(input, ' ', label);
	} else {
		wrap.append(label, input);
	}
	return wrap;
}

function openAction(svc, a) {
	const def = (svc.manifest.actions || {})[a] || {};
	const req = new Set(def.required || []);
	const fields = $('action-fields');
	fields.replaceChildren();
	for (const [name, f] of Object.entries(def.args || {})) {
		fields.append(argInput(name, f || {}, req.has(name)));
	}
	if (!fields.childElementCount) {
		fields.append(el('p', 'This action takes no arguments.'));
	}
	const form = $('action-form');
	form.dataset.action = a;
	$('action-title').textContent = 'Run ' + a + (def.description ? ': ' + def.description : '');
	setError('action-error', '');
	form.hidden = false;
	const first = fields.querySelector('input, select, textarea');
	(first || form.querySelector('button')).focus();
}

function collectArgs() {
	const args = {};
	for (const input of $('action-fields').querySelectorAll('input, select, textarea')) {
		const t = input.dataset.type;
		if (t === 'boolean') {
			args[input.name] = input.checked;
			continue;
		}
		const v = input.value;
		if (v === '') {
			continue; /* the default applies */
		}
		if (t === 'integer' || t === 'number') {
			args[input.name] = Number(v);
		} else if (t === 'array' || t === 'object' || t === 'enum') {
			args[input.name] = JSON.parse(v);
		} else {
			args[input.name] = v;
		}
	}
	return args;
}

async function submitAction(ev) {
	ev.preventDefault();
	const svc = S.svc;
	const a = $('action-form').dataset.action;
	let args;
	try {
		args = collectArgs();
	} catch (e) {
		setError('action-error', 'An argument is not JSON: ' + e.message);
		return;
	}
	let task;
	try {
		const r = await api(v1(svc.t, svc.s, 'actions', a), {
			method: 'POST',
			headers: {'Content-Type': 'application/json'},
			body: JSON.stringify(args),
		});
		task = await r.json();
	} catch (e) {
		setError('action-error', 'Could not run ' + a + ': ' + e.message);
		return;
	}
	$('action-form').hidden = true;
	$('result-title').textContent = 'Task #' + task.id + ' (' + a + '): ' + task.state;
	$('result-title').className = '';
	$('result-text').textContent = '';
	delete $('action-result').dataset.state;
	show('action-result', true);
	selectTask(svc, task.id);
	waitResult(svc, task.id, a);
}

/* Long polls the task's result until it ends, then shows it with its final state. */
async function waitResult(svc, id, a) {
	if (svc.resultCtl) {
		svc.resultCtl.abort();
	}
	const ctl = new AbortController();
	svc.resultCtl = ctl;
	try {
		for (;;) {
			const [r, text] = await untilAnswer(ctl, async () => {
				const r = await api(v1(svc.t, svc.s, 'tasks', String(id), 'result') +
					'?wait=30', {signal: ctl.signal});
				return [r, await r.text()];
			});
			if (r.status === 200) {
				const st = r.headers.get('Zr-Task-State') || 'ok';
				$('result-title').textContent = 'Task #' + id + ' (' + a + '): ' + st;
				$('result-title').className = 'st-' + st;
				$('result-text').textContent = text;
				$('action-result').dataset.state = st;
				return;
			}
		}
	} catch (e) {
		if (!ctl.signal.aborted && S.svc === svc) {
			$('result-text').textContent = 'Could not read the result: ' + e.message;
		}
	}
}

async function deleteService() {
	const svc = S.svc;
	if (!svc || !confirm('Delete ' + svc.t + '/' + svc.s + '? Its data and tasks go with it.')) {
		return;
	}
	try {
		await api(v1(svc.t, svc.s), {method: 'DELETE'});
		location.hash = '#/';
	} catch (e) {
		setError('svc-error', 'Could not delete ' + svc.t + '/' + svc.s + ': ' + e.message);
	}
}

/* ---- the process chart ---- */

function parseStats(text) {
	const o = {};
	for (const l of text.split('\n')) {
		const [k, v] = l.split(' ');
		if (k) {
			o[k] = Number(v);
		}
	}
	return o;
}

async function sample(svc) {
	let st;
	try {
		st = parseStats(await getText(v1(svc.t, svc.s, 'process', 'stats')));
	} catch (e) {
		/* A server that is not running answers 200 with no numbers; 404 means no such
		 * service (deleted, or an old link): nothing will ever come, stop asking. */
		if (e.status === 404) {
			clearInterval(svc.sampler);
		}
		return;
	}
	if (S.svc !== svc || !('rss' in st)) {
		return;
	}
	svc.samples.push({t: Date.now(), rss: st.rss / 1048576, cpu: st.cpu_percent || 0});
	if (svc.samples.length > MAX_SAMPLES) {
		svc.samples.shift();
	}
	drawChart($('chart-rss'), svc.samples, 'rss', 'MiB');
	drawChart($('chart-cpu'), svc.samples, 'cpu', '%');
}

function drawChart(svg, samples, key, unit) {
	const W = 320, H = 120, L = 40, B = 16, T = 8, R = 8;
	const vals = samples.map((x) => x[key]);
	const max = Math.max(key === 'cpu' ? 1 : 0.001, ...vals) * 1.1;
	const t0 = samples[0].t, t1 = Math.max(samples[samples.length - 1].t, t0 + 1);
	const x = (t) => L + (W - L - R) * (t - t0) / (t1 - t0);
	const y = (v) => H - B - (H - B - T) * v / max;
	svg.replaceChildren(
		svgEl('line', {class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B}),
		svgEl('line', {class: 'axis', x1: L, y1: T, x2: L, y2: H - B}));
	const top = svgEl('text', {x: 2, y: T + 8});
	top.textContent = max.toFixed(max < 10 ? 1 : 0) + ' ' + unit;
	const bottom = svgEl('text', {x: 2, y: H - B});
	bottom.textContent = '0';
	const span = svgEl('text', {x: W - R - 60, y: H - 2});
	span.textContent = Math.round((t1 - t0) / 1000) + ' s';
	const last = svgEl('text', {x: W - R, y: T + 8, 'text-anchor': 'end'});
	last.textContent = 'now ' + vals[vals.length - 1].toFixed(1) + ' ' + unit;
	const pts = samples.map((s) => x(s.t).toFixed(1) + ',' + y(s[key]).toFixed(1)).join(' ');
	svg.append(top, bottom, span, last, svgEl('polyline', {class: 'line', points: pts}));
	svg.dataset.samples = String(samples.length);
}

/* ---- the relations graph ---- */

/* Reads the subset of dot that @robot/graph writes: quoted IDs, node statements, edges
 * a -> b with [label=..., style=dashed] attributes; subgraph lines are skipped. */
function parseDot(text) {
	const nodes = new Set(), edges = [];
	const tokenize = (line) => {
		const out = [];
		const re = /"((?:[^"\\]|\\.)*)"|->|[A-Za-z_][A-Za-z0-9_]*|[[\]=,;{}]/g;
		let m;
		while ((m = re.exec(line))) {
			out.push(m[1] !== undefined ? {id: m[1].replace(/\\(.)/g, '$1')} : m[0]);
		}
		return out;
	};
	for (const line of text.split('\n')) {
		const tk = tokenize(line.trim());
		if (!tk.length || typeof tk[0] !== 'object') {
			continue;
		}
		const attrs = {};
		const br = tk.indexOf('[');
		if (br >= 0) {
			for (let i = br + 1; i + 2 < tk.length; i++) {
				if (tk[i + 1] === '=') {
					const k = typeof tk[i] === 'object' ? tk[i].id : tk[i];
					const v = typeof tk[i + 2] === 'object' ? tk[i + 2].id : tk[i + 2];
					attrs[k] = v;
					i += 2;
				}
			}
		}
		if (tk[1] === '->' && typeof tk[2] === 'object') {
			const from = tk[0].id, to = tk[2].id;
			nodes.add(from);
			nodes.add(to);
			edges.push({from, to, label: attrs.label || '', child: attrs.style === 'dashed'});
		} else if (tk[1] === ';' || tk[1] === '[') {
			nodes.add(tk[0].id);
		}
	}
	return {nodes: [...nodes], edges};
}

/* Layers: a producer sits below every consumer (a parent above its children), by the longest
 * path from the top; cycles are cut by the bound on the number of passes. */
function layout(g) {
	const level = new Map(g.nodes.map((n) => [n, 0]));
	for (let pass = 0; pass < g.nodes.length; pass++) {
		let changed = false;
		for (const e of g.edges) {
			if (level.get(e.to) < level.get(e.from) + 1) {
				level.set(e.to, level.get(e.from) + 1);
				changed = true;
			}
		}
		if (!changed) {
			break;
		}
	}
	const rows = [];
	for (const n of g.nodes) {
		(rows[level.get(n)] = rows[level.get(n)] || []).push(n);
	}
	return rows.filter(Boolean);
}

async function loadGraph() {
	setError('graph-error', '');
	let text;
	try {
		text = await getText(v1('@robot', 'graph'));
	} catch (e) {
		setError('graph-error', 'Could not read the graph: ' + e.message);
		return;
	}
	if (S.route.view !== 'graph') {
		return;
	}
	drawGraph(parseDot(text));
}

function drawGraph(g) {
	const svg = $('graph');
	const rows = layout(g);
	const NW = 150, NH = 30, GX = 30, GY = 60, P = 20;
	const width = Math.max(1, ...rows.map((r) => r.length)) * (NW + GX) + 2 * P;
	const height = rows.length * (NH + GY) + 2 * P;
	svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
	svg.setAttribute('width', String(width));
	svg.setAttribute('height', String(height));
	const pos = new Map();
	rows.forEach((r, i) => r.forEach((n, j) => {
		const off = (width - 2 * P - r.length * (NW + GX) + GX) / 2;
		pos.set(n, {x: P + off + j * (NW + GX), y: P + i * (NH + GY)});
	}));
	const defs = svgEl('defs');
	const marker = svgEl('marker', {id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5,
		markerWidth: 8, markerHeight: 8, orient: 'auto-start-reverse'});
	marker.append(svgEl('path', {d: 'M0,0 L10,5 L0,10 z', fill: '#5b6670'}));
	defs.append(marker);
	svg.replaceChildren(defs);
	for (const e of g.edges) {
		const a = pos.get(e.from), b = pos.get(e.to);
		const grp = svgEl('g', {class: 'edge' + (e.child ? ' child' : '')});
		grp.dataset.from = e.from;
		grp.dataset.to = e.to;
		const line = svgEl('line', {x1: a.x + NW / 2, y1: a.y + NH, x2: b.x + NW / 2, y2: b.y});
		if (!e.child) {
			line.setAttribute('marker-end', 'url(#arrow)');
		}
		const label = svgEl('text', {x: (a.x + b.x + NW) / 2 + 4, y: (a.y + NH + b.y) / 2});
		label.textContent = e.label;
		grp.append(line, label);
		svg.append(grp);
	}
	for (const n of g.nodes) {
		const p = pos.get(n);
		const local = !n.startsWith('@');
		const grp = svgEl(local ? 'a' : 'g', {class: 'node'});
		grp.dataset.node = n;
		if (local) {
			const [t, s] = n.split('/');
			grp.setAttribute('href', '#/svc/' + encodeURIComponent(t) + '/' + encodeURIComponent(s));
		}
		const rect = svgEl('rect', {x: p.x, y: p.y, width: NW, height: NH, rx: 6});
		const text = svgEl('text', {x: p.x + 8, y: p.y + 19});
		text.textContent = n.length > 22 ? n.slice(0, 21) + '…' : n;
		const title = svgEl('title');
		title.textContent = n;
		grp.append(rect, text, title);
		svg.append(grp);
	}
	show('graph-empty', g.nodes.length === 0);
}

/* ---- start ---- */

document.addEventListener('DOMContentLoaded', () => {
	/* The browser test checks this marker to know the page was never reloaded. */
	window.zrLoadedAt = Date.now();
	$('login-form').addEventListener('submit', async (ev) => {
		ev.preventDefault();
		setError('login-error', '');
		if (await login($('token').value.trim())) {
			if (!location.hash || location.hash === '#') {
				location.hash = '#/';
			}
			route();
		}
	});
	$('logout').addEventListener('click', () => logout(''));
	$('create-form').addEventListener('submit', submitCreate);
	$('create-cancel').addEventListener('click', () => { $('create-form').hidden = true; });
	$('action-form').addEventListener('submit', submitAction);
	$('action-cancel').addEventListener('click', () => { $('action-form').hidden = true; });
	$('svc-delete').addEventListener('click', deleteService);
	window.addEventListener('hashchange', route);
	if (S.token) {
		login(S.token).then(route);
	} else {
		route();
	}
});
