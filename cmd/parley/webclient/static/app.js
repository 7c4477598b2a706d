// The page: a join form, the room's log, its roster, a line to type in. The protocols are parley.js.
import { Room, sameURI, text, token } from './parley.js';

const $ = (id) => document.getElementById(id);
let room = null;
let target = null; // a member's {aor, nick} when talking privately
let config = { domain: location.hostname, room: 'lobby' };
const typers = new Map(); // AOR → timer

function status(s) { $('status').textContent = s; }

function nickOf(aor) {
  if (room) for (const m of room.roster.values()) if (sameURI(m.aor, aor) && m.nick) return m.nick;
  return (/^sips?:([^@;]+)@/.exec(aor) || [])[1] || aor;
}

function time(dt) {
  const d = dt ? new Date(dt) : new Date();
  return isNaN(d) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });
}

// names keeps the roster's nicknames on the lines already shown: the history arrives before the
// first NOTIFY, and people change nicknames.
function renameAll() {
  for (const w of document.querySelectorAll('#log .who[data-from]')) {
    w.textContent = nickOf(w.dataset.from) + (w.dataset.to ? ' → ' + nickOf(w.dataset.to) : '') + ':';
  }
}

function line(cls, who, body, dt, from = '', to = '') {
  const log = $('log');
  const p = document.createElement('p');
  p.className = 'msg ' + cls;
  const t = document.createElement('span');
  t.className = 'time';
  t.textContent = time(dt);
  p.append(t);
  if (who) {
    const w = document.createElement('span');
    w.className = 'who';
    w.textContent = who + ':';
    if (from) w.dataset.from = from;
    if (to) w.dataset.to = to;
    p.append(w);
  }
  p.append(body);
  const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 20;
  log.append(p);
  if (atEnd) log.scrollTop = log.scrollHeight;
  return p;
}

function fileName(disposition) {
  const m = /filename\*?=(?:"([^"]*)"|([^;\s]+))/i.exec(disposition || '');
  return m ? (m[1] || m[2]).replace(/[/\\]/g, '_') : '';
}

function showMessage(m, joining) {
  const mine = sameURI(m.from, room.aor);
  let cls = (m.private ? 'private ' : '') + (mine ? 'mine ' : '') + (joining ? 'history' : '');
  let who = nickOf(m.from);
  let to = '';
  if (mine && m.private === false && m.to.length && !sameURI(m.to[0], room.roomURI)) {
    cls += ' private';
    to = m.to[0];
    who += ' → ' + nickOf(to);
  }
  const ct = m.contentType.toLowerCase();
  const name = fileName(m.disposition);
  if (ct.startsWith('text/plain') && !name) {
    line(cls, who, text(m.body), m.dateTime, m.from, to);
    return;
  }
  // A file (RFC 5547 push, relayed as CPIM with Content-Disposition) or another payload.
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([m.body], { type: m.contentType || 'application/octet-stream' }));
  a.download = name || 'file';
  a.className = 'download';
  a.textContent = `${name || 'file'} (${m.contentType || 'unknown type'}, ${m.body.length} bytes)`;
  line(cls + ' file', who, a, m.dateTime, m.from, to);
}

function showRoster(members) {
  const ul = $('roster');
  ul.textContent = '';
  const sorted = members.slice().sort((a, b) => nickOf(a.aor).localeCompare(nickOf(b.aor)));
  for (const m of sorted) {
    const li = document.createElement('li');
    li.textContent = m.nick || nickOf(m.aor);
    li.title = m.aor;
    li.dataset.aor = m.aor;
    if (sameURI(m.aor, room.aor)) li.className = 'me';
    else {
      if (target && sameURI(target.aor, m.aor)) li.className = 'selected';
      li.onclick = () => choose(target && sameURI(target.aor, m.aor) ? null : m);
    }
    ul.append(li);
  }
  if (target && !members.some((m) => sameURI(m.aor, target.aor))) choose(null);
}

function choose(m) {
  target = m ? { aor: m.aor, nick: m.nick || nickOf(m.aor) } : null;
  $('target').textContent = target ? `to ${target.nick} only:` : '';
  $('line').placeholder = target ? `Private message to ${target.nick}` : 'Message to the room';
  if (room) showRoster(Array.from(room.roster.values()));
  $('line').focus();
}

function showTyping() {
  const names = Array.from(typers.keys()).map(nickOf);
  $('typing').textContent = names.length ? `${names.join(', ')} ${names.length > 1 ? 'are' : 'is'} typing…` : '';
}

function identity(nick, account) {
  if (account) return `sip:${account}@${config.domain}`; // the Digest user's own address
  // One identity per tab (it survives a reload, so a rejoin is the same member and keeps the
  // nickname); the nickname itself is set with NICKNAME once in the room.
  let id = JSON.parse(sessionStorage.getItem('parley.identity') || 'null');
  if (!id || id.nick !== nick) {
    const user = (nick.normalize('NFKD').replace(/[^A-Za-z0-9._~-]/g, '').toLowerCase() || 'guest') + '-' + token(6);
    id = { nick, aor: `sip:${user}@${config.domain}` };
    sessionStorage.setItem('parley.identity', JSON.stringify(id));
  }
  return id.aor;
}

async function join(name, nick, account = '', password = '') {
  $('joinError').textContent = '';
  $('joinButton').disabled = true;
  status('joining ' + name + '…');
  const base = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host;
  const credentials = account ? { user: account, password } : null;
  const r = new Room({ base, room: name, domain: config.domain, aor: identity(nick, account), nick, credentials });
  room = r;
  let joining = true;
  r.addEventListener('message', (e) => {
    showMessage(e.detail, joining);
    // RFC 3994 §3.3: a message from someone who was composing makes him idle.
    for (const aor of typers.keys()) {
      if (sameURI(aor, e.detail.from)) { clearTimeout(typers.get(aor)); typers.delete(aor); showTyping(); }
    }
  });
  r.addEventListener('notice', (e) => line('notice', '', e.detail.text, e.detail.dateTime));
  r.addEventListener('roster', (e) => { showRoster(e.detail.members); renameAll(); showTyping(); });
  r.addEventListener('composing', (e) => {
    const { from, active, refresh } = e.detail;
    clearTimeout(typers.get(from));
    typers.delete(from);
    if (active) typers.set(from, setTimeout(() => { typers.delete(from); showTyping(); }, refresh * 1000));
    showTyping();
  });
  r.addEventListener('closed', (e) => {
    status(e.detail.reason);
    $('sendButton').disabled = true;
    $('line').disabled = true;
    if (room === r) {
      room = null;
      $('join').hidden = false;
      $('joinButton').disabled = false;
    }
  });
  try {
    await r.join();
  } catch (err) {
    r.end('not joined');
    $('joinError').textContent = `Could not join ${name}: ${err.message}`;
    status('');
    $('joinButton').disabled = false;
    return;
  }
  joining = false;
  sessionStorage.setItem('parley.joined', JSON.stringify({ room: name, nick, account })); // never the password
  $('join').hidden = true;
  $('chat').hidden = false;
  $('line').disabled = false;
  $('sendButton').disabled = false;
  document.title = `${name} — Parley`;
  status(`in ${r.roomURI} as ${r.nick} (${r.aor})`);
  $('line').focus();
}

let composingSent = 0;
let idleTimer = null;

async function say(ev) {
  ev.preventDefault();
  const input = $('line');
  const body = input.value;
  if (!room || !body.trim()) return;
  input.value = '';
  clearTimeout(idleTimer);
  composingSent = 0;
  if (/^\/nick\s+\S/.test(body)) {
    const nick = body.replace(/^\/nick\s+/, '').trim();
    if (await room.setNickname(nick)) {
      line('notice', '', `you are now ${nick}`);
      status(`in ${room.roomURI} as ${nick} (${room.aor})`);
    }
    return;
  }
  const to = target ? target.aor : null;
  try {
    await room.say(body, to);
    const p = line('mine' + (to ? ' private' : ''), nickOf(room.aor) + (to ? ' → ' + target.nick : ''), body, '', room.aor, to || '');
    p.dataset.sent = 'yes';
  } catch (err) {
    line('notice', '', `not delivered (${err.message}): ${body}`);
  }
}

function typing() {
  if (!room) return;
  const to = target ? target.aor : null;
  const now = Date.now();
  if (now - composingSent > 50000) { // RFC 3994 §3.2: refresh before the 60 s we announce
    composingSent = now;
    room.composing(true, to);
  }
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => { composingSent = 0; if (room) room.composing(false, to); }, 5000); // idle after 5 s
}

async function sendFile() {
  const f = $('file').files[0];
  if (!room || !f) return;
  const to = target ? target.aor : null;
  const p = line('mine notice', '', `sending ${f.name} (${f.size} bytes)…`);
  try {
    await room.sendFile(f, to, (n) => { p.lastChild.textContent = `sending ${f.name}: ${n} of ${f.size} bytes`; });
    p.lastChild.textContent = `sent ${f.name} (${f.size} bytes)` + (target ? ` to ${target.nick}` : '');
  } catch (err) {
    p.lastChild.textContent = `${f.name} not sent: ${err.message}`;
  }
  $('file').value = '';
}

addEventListener('DOMContentLoaded', async () => {
  try {
    const res = await fetch('config.json');
    if (res.ok) config = { ...config, ...(await res.json()) };
  } catch (e) { /* the defaults do */ }
  const params = new URLSearchParams(location.search);
  $('room').value = params.get('room') || config.room;
  $('join').onsubmit = (ev) => {
    ev.preventDefault();
    join($('room').value.trim(), $('nick').value.trim(), $('account').value.trim(), $('password').value);
  };
  $('say').onsubmit = say;
  $('line').oninput = typing;
  $('file').onchange = sendFile;
  $('leaveButton').onclick = () => { sessionStorage.removeItem('parley.joined'); if (room) room.leave(); $('chat').hidden = true; };
  addEventListener('pagehide', () => { if (room) room.end('page closed'); });
  const again = JSON.parse(sessionStorage.getItem('parley.joined') || 'null');
  if (again) { // a reload rejoins the room it was in; signed in, once the password is typed again
    $('room').value = again.room;
    $('nick').value = again.nick;
    if (again.account) {
      $('account').value = again.account;
      $('signin').open = true;
      $('password').focus();
    } else {
      join(again.room, again.nick);
    }
  }
});
