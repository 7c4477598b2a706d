// Parley's browser side of a chat room: SIP over WebSocket (RFC 7118) for the INVITE, ACK, BYE and
// the conference event package (RFC 4575 over RFC 6665), MSRP over WebSocket (RFC 7977) for the
// messages (RFC 4975 framing, chunks, RFC 7701 NICKNAME), CPIM (RFC 3862) around every payload.
// Only what a participant of an MSRP chat room needs, and nothing to build: one ES module.

const enc = new TextEncoder();
const dec = new TextDecoder();

export const NS_CONF = 'urn:ietf:params:xml:ns:conference-info';

export function token(n = 12) {
  const a = new Uint8Array(n);
  crypto.getRandomValues(a);
  return Array.from(a, (b) => 'abcdefghijklmnopqrstuvwxyz0123456789'[b % 36]).join('');
}

function concat(parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let i = 0;
  for (const p of parts) { out.set(p, i); i += p.length; }
  return out;
}

function indexOf(hay, needle, from = 0) {
  outer: for (let i = from; i <= hay.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function lastIndexOf(hay, needle) {
  outer: for (let i = hay.length - needle.length; i >= 0; i--) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

// uriOf returns the URI of a name-addr ("Name" <sip:a@b>;tag=x) or of a bare addr-spec.
export function uriOf(v) {
  const m = /<([^>]*)>/.exec(v || '');
  return (m ? m[1] : (v || '').split(';')[0]).trim();
}

function param(v, name) {
  const m = new RegExp(';\\s*' + name + '=([^;>,\\s]+)', 'i').exec(v || '');
  return m ? m[1] : '';
}

// ---- MD5 (RFC 1321), for SIP Digest (RFC 3261 §22.4, RFC 2617), which WebCrypto lacks ----

const MD5_S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
const MD5_K = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) >>> 0);

export function md5hex(str) {
  const msg = enc.encode(str);
  const n = ((msg.length + 8) >>> 6) + 1; // 64-byte blocks
  const words = new Uint32Array(n * 16);
  for (let i = 0; i < msg.length; i++) words[i >> 2] |= msg[i] << ((i % 4) * 8);
  words[msg.length >> 2] |= 0x80 << ((msg.length % 4) * 8);
  words[n * 16 - 2] = (msg.length * 8) >>> 0;
  words[n * 16 - 1] = Math.floor(msg.length / 0x20000000);
  let a0 = 0x67452301, b0 = 0xefcdab89, c0 = 0x98badcfe, d0 = 0x10325476;
  for (let blk = 0; blk < n * 16; blk += 16) {
    let a = a0, b = b0, c = c0, d = d0;
    for (let i = 0; i < 64; i++) {
      let f, g;
      if (i < 16) { f = (b & c) | (~b & d); g = i; }
      else if (i < 32) { f = (d & b) | (~d & c); g = (5 * i + 1) % 16; }
      else if (i < 48) { f = b ^ c ^ d; g = (3 * i + 5) % 16; }
      else { f = c ^ (b | ~d); g = (7 * i) % 16; }
      const t = d;
      d = c;
      c = b;
      const x = (a + f + MD5_K[i] + words[blk + g]) >>> 0;
      const sh = MD5_S[(i >> 4) * 4 + (i % 4)];
      b = (b + ((x << sh) | (x >>> (32 - sh)))) >>> 0;
      a = t;
    }
    a0 = (a0 + a) >>> 0; b0 = (b0 + b) >>> 0; c0 = (c0 + c) >>> 0; d0 = (d0 + d) >>> 0;
  }
  return [a0, b0, c0, d0].map((w) => Array.from({ length: 4 }, (_, i) => ((w >>> (8 * i)) & 0xff).toString(16).padStart(2, '0')).join('')).join('');
}

function challengeParams(v) {
  const out = {};
  const re = /([a-zA-Z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))/g;
  let m;
  while ((m = re.exec(v.replace(/^\s*Digest\s+/i, '')))) out[m[1].toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3];
  return out;
}

// digestAuthorization answers a Digest challenge (MD5, qop auth or none) for method and uri.
export function digestAuthorization(challenge, method, uri, user, password, nc = 1) {
  const c = challengeParams(challenge);
  if (c.algorithm && c.algorithm.toUpperCase() !== 'MD5') throw new Error('Digest algorithm ' + c.algorithm + ' is not supported');
  const ha1 = md5hex(`${user}:${c.realm}:${password}`);
  const ha2 = md5hex(`${method}:${uri}`);
  const q = (s) => '"' + String(s).replace(/["\\]/g, '\\$&') + '"';
  let h = `Digest username=${q(user)}, realm=${q(c.realm)}, nonce=${q(c.nonce)}, uri=${q(uri)}, algorithm=MD5`;
  if ((c.qop || '').split(',').map((x) => x.trim()).includes('auth')) {
    const cnonce = token(16);
    const ncs = nc.toString(16).padStart(8, '0');
    h += `, qop=auth, nc=${ncs}, cnonce=${q(cnonce)}, response=${q(md5hex(`${ha1}:${c.nonce}:${ncs}:${cnonce}:auth:${ha2}`))}`;
  } else {
    h += `, response=${q(md5hex(`${ha1}:${c.nonce}:${ha2}`))}`;
  }
  if (c.opaque !== undefined) h += `, opaque=${q(c.opaque)}`;
  return h;
}

// ---- SIP (RFC 3261) over WebSocket (RFC 7118) ----

const COMPACT = { v: 'via', f: 'from', t: 'to', i: 'call-id', m: 'contact', l: 'content-length', c: 'content-type', e: 'content-encoding', k: 'supported', o: 'event', u: 'allow-events' };

export function parseSIP(text) {
  const cut = text.indexOf('\r\n\r\n');
  const head = cut < 0 ? text : text.slice(0, cut);
  const body = cut < 0 ? '' : text.slice(cut + 4);
  const lines = head.split('\r\n');
  const start = lines.shift();
  const raw = [];
  for (const l of lines) {
    if (/^[ \t]/.test(l) && raw.length) { raw[raw.length - 1][1] += ' ' + l.trim(); continue; }
    const i = l.indexOf(':');
    if (i < 0) throw new Error('bad SIP header line: ' + l);
    let name = l.slice(0, i).trim();
    const lname = COMPACT[name.toLowerCase()] || name.toLowerCase();
    raw.push([lname, l.slice(i + 1).trim()]);
  }
  const msg = { raw, body, get: (n) => { const h = raw.find((x) => x[0] === n); return h ? h[1] : ''; }, all: (n) => raw.filter((x) => x[0] === n).map((x) => x[1]) };
  let m;
  if ((m = /^SIP\/2\.0 (\d{3}) ?(.*)$/.exec(start))) {
    msg.status = +m[1];
    msg.reason = m[2];
  } else if ((m = /^([A-Z]+) (\S+) SIP\/2\.0$/.exec(start))) {
    msg.method = m[1];
    msg.uri = m[2];
  } else {
    throw new Error('bad SIP start line: ' + start);
  }
  return msg;
}

export class SIPClient {
  // url: ws(s)://host/sip; aor: our SIP URI; display: our display name.
  constructor(url, aor, display) {
    this.url = url;
    this.aor = aor;
    this.display = display;
    this.secure = url.startsWith('wss:');
    this.host = token(10) + '.invalid'; // RFC 7118 §5: a host nobody resolves
    this.contact = `<sip:${token(8)}@${this.host};transport=${this.secure ? 'wss' : 'ws'}>`;
    this.pending = new Map(); // branch → {resolve, reject, onProvisional}
    this.onrequest = null; // (req) → {status, reason, headers, body} or undefined for 200
    this.onclose = null;
  }

  connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url, 'sip');
      this.ws = ws;
      ws.onopen = () => {
        if (ws.protocol !== 'sip') { ws.close(); reject(new Error('server did not accept the sip subprotocol')); return; }
        resolve();
      };
      ws.onerror = () => reject(new Error('SIP WebSocket failed: ' + this.url));
      ws.onclose = () => {
        for (const p of this.pending.values()) p.reject(new Error('SIP WebSocket closed'));
        this.pending.clear();
        if (this.onclose) this.onclose();
      };
      ws.onmessage = (ev) => this.receive(typeof ev.data === 'string' ? ev.data : dec.decode(ev.data));
    });
  }

  close() { if (this.ws) this.ws.close(); }

  receive(text) {
    if (!text.trim()) return; // keepalive CRLF
    let msg;
    try { msg = parseSIP(text); } catch (e) { console.warn(e); return; }
    if (msg.status) {
      const branch = param(msg.get('via'), 'branch');
      const p = this.pending.get(branch);
      if (!p) return;
      if (msg.status < 200) { if (p.onProvisional) p.onProvisional(msg); return; }
      this.pending.delete(branch);
      p.resolve(msg);
      return;
    }
    if (msg.method === 'ACK') return;
    let ans = {};
    try { ans = (this.onrequest && this.onrequest(msg)) || {}; } catch (e) { console.warn(e); ans = { status: 500, reason: 'Server Internal Error' }; }
    this.respond(msg, ans.status || 200, ans.reason || 'OK', ans.headers || [], ans.body || '');
  }

  respond(req, status, reason, headers, body) {
    let to = req.get('to');
    if (!param(to, 'tag')) to += ';tag=' + (req.localTag || token(8));
    const lines = [`SIP/2.0 ${status} ${reason}`];
    for (const v of req.all('via')) lines.push('Via: ' + v);
    for (const v of req.all('record-route')) lines.push('Record-Route: ' + v);
    lines.push('From: ' + req.get('from'), 'To: ' + to, 'Call-ID: ' + req.get('call-id'), 'CSeq: ' + req.get('cseq'));
    if (status >= 200 && status < 300 && req.method !== 'BYE') lines.push('Contact: ' + this.contact);
    for (const h of headers) lines.push(h);
    lines.push('Content-Length: ' + enc.encode(body).length);
    this.ws.send(lines.join('\r\n') + '\r\n\r\n' + body);
  }

  // request sends a request and resolves with its final response. d is a dialog (callID, localTag,
  // remoteTag, target, route, cseq) or the first request's fields (to). A Digest challenge (401,
  // 407) is answered once with this.credentials ({user, password}) when there are any.
  async request(method, d, headers = [], body = '', onProvisional = null) {
    let res = await this.send(method, d, headers, body, onProvisional);
    if (res && (res.status === 401 || res.status === 407) && this.credentials) {
      const challenge = res.get(res.status === 401 ? 'www-authenticate' : 'proxy-authenticate');
      if (challenge) {
        const auth = digestAuthorization(challenge, method, d.target || d.to, this.credentials.user, this.credentials.password);
        res = await this.send(method, d, [...headers, (res.status === 401 ? 'Authorization: ' : 'Proxy-Authorization: ') + auth], body, onProvisional);
      }
    }
    return res;
  }

  send(method, d, headers, body, onProvisional) {
    const branch = 'z9hG4bK' + token(16);
    if (method !== 'ACK') d.cseq = (d.cseq || 0) + 1;
    const cseq = d.cseq;
    const to = `<${d.to}>` + (d.remoteTag ? ';tag=' + d.remoteTag : '');
    const lines = [`${method} ${d.target || d.to} SIP/2.0`,
      `Via: SIP/2.0/${this.secure ? 'WSS' : 'WS'} ${this.host};branch=${branch}`,
      'Max-Forwards: 70', 'To: ' + to, `From: "${this.display.replace(/["\\]/g, '')}" <${this.aor}>;tag=${d.localTag}`,
      'Call-ID: ' + d.callID, `CSeq: ${method === 'ACK' ? d.ackCSeq : d.cseq} ${method}`, 'Contact: ' + this.contact];
    for (const r of d.route || []) lines.push('Route: ' + r);
    lines.push('User-Agent: Parley web client');
    for (const h of headers) lines.push(h);
    lines.push('Content-Length: ' + enc.encode(body).length);
    const text = lines.join('\r\n') + '\r\n\r\n' + body;
    if (method === 'ACK') { this.ws.send(text); return Promise.resolve(null); }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.pending.delete(branch); reject(new Error(method + ': no final response')); }, 32000);
      this.pending.set(branch, {
        resolve: (r) => {
          clearTimeout(timer);
          if (method === 'INVITE' && r.status >= 300) { // RFC 3261 §17.1.1.3: the transaction's own ACK
            this.ws.send([`ACK ${lines[0].split(' ')[1]} SIP/2.0`, lines[1], 'Max-Forwards: 70', 'To: ' + r.get('to'), lines[4],
              'Call-ID: ' + d.callID, `CSeq: ${cseq} ACK`, 'Content-Length: 0', '', ''].join('\r\n'));
          }
          resolve(r);
        },
        reject: (e) => { clearTimeout(timer); reject(e); },
        onProvisional,
      });
      this.ws.send(text);
    });
  }
}

// dialogFrom completes d with what a 2xx response establishes (RFC 3261 §12.1.2).
function dialogFrom(d, res) {
  d.remoteTag = param(res.get('to'), 'tag');
  const contact = uriOf(res.get('contact'));
  if (contact) d.target = contact;
  d.route = res.all('record-route').flatMap((v) => v.split(/,(?=\s*<)/)).map((s) => s.trim()).reverse();
  return d;
}

// ---- MSRP (RFC 4975) over WebSocket (RFC 7977) ----

export function parseMSRP(bytes) {
  const nl = indexOf(bytes, enc.encode('\r\n'));
  if (nl < 0) throw new Error('MSRP frame without a start line');
  const start = dec.decode(bytes.subarray(0, nl));
  const m = /^MSRP ([A-Za-z0-9][A-Za-z0-9.+%=-]{3,31}) (.+)$/.exec(start);
  if (!m) throw new Error('bad MSRP start line: ' + start);
  const tid = m[1];
  const end = lastIndexOf(bytes, enc.encode('\r\n-------' + tid));
  if (end < nl) throw new Error('MSRP frame without its end-line');
  const flag = String.fromCharCode(bytes[end + 9 + tid.length]);
  const blank = indexOf(bytes, enc.encode('\r\n\r\n'), nl);
  const headEnd = blank >= 0 && blank < end ? blank : end;
  const headers = new Map();
  for (const line of dec.decode(bytes.subarray(nl + 2, headEnd)).split('\r\n')) {
    if (!line) continue;
    const i = line.indexOf(':');
    headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  const body = blank >= 0 && blank < end ? bytes.subarray(blank + 4, end) : new Uint8Array(0);
  const f = { tid, flag, headers, body };
  const r = /^(\d{3})(?: (.*))?$/.exec(m[2]);
  if (r) { f.status = +r[1]; f.comment = r[2] || ''; } else f.method = m[2];
  return f;
}

export function buildMSRP(tid, method, headers, body, flag = '$') {
  let head = `MSRP ${tid} ${method}\r\n`;
  for (const [k, v] of headers) head += `${k}: ${v}\r\n`;
  const parts = [enc.encode(head)];
  if (body) parts.push(enc.encode('\r\n'), body, enc.encode('\r\n'));
  parts.push(enc.encode(`-------${tid}${flag}\r\n`));
  return concat(parts);
}

// MSRPConnection is one WebSocket to GET /msrp, carrying one or more sessions (by our own URI).
export class MSRPConnection {
  constructor(url) {
    this.url = url;
    this.sessions = new Map(); // our path URI → MSRPSession
    this.pending = new Map(); // tid → {resolve, reject}
    this.onclose = null;
  }

  connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url, 'msrp');
      ws.binaryType = 'arraybuffer';
      this.ws = ws;
      ws.onopen = () => {
        if (ws.protocol !== 'msrp') { ws.close(); reject(new Error('server did not accept the msrp subprotocol')); return; }
        resolve();
      };
      ws.onerror = () => reject(new Error('MSRP WebSocket failed: ' + this.url));
      ws.onclose = () => {
        for (const p of this.pending.values()) p.reject(new Error('MSRP WebSocket closed'));
        this.pending.clear();
        if (this.onclose) this.onclose();
      };
      ws.onmessage = (ev) => this.receive(typeof ev.data === 'string' ? enc.encode(ev.data) : new Uint8Array(ev.data));
    });
  }

  close() { if (this.ws) this.ws.close(); }

  receive(bytes) {
    let f;
    try { f = parseMSRP(bytes); } catch (e) { console.warn(e); return; }
    if (f.status) {
      const p = this.pending.get(f.tid);
      if (p) { this.pending.delete(f.tid); p.resolve(f); }
      return;
    }
    const toPath = (f.headers.get('to-path') || '').split(/\s+/)[0];
    const sid = (u) => u.replace(/;.*$/, '').split('/').pop();
    const s = this.sessions.get(toPath) || Array.from(this.sessions.values()).find((x) => sid(x.local) === sid(toPath));
    const from = (f.headers.get('from-path') || '').split(/\s+/)[0];
    const answer = (code, comment) => {
      if (f.method !== 'SEND' && f.method !== 'NICKNAME') return; // REPORTs get no response
      const fr = f.method === 'SEND' ? f.headers.get('failure-report') : null;
      if (fr === 'no' || (fr === 'partial' && code === 200)) return; // RFC 4975 §7.1.1: partial wants failures only
      this.ws.send(buildMSRP(f.tid, `${code} ${comment}`, [['To-Path', from], ['From-Path', toPath]]));
    };
    if (!s) { answer(481, 'No such session'); return; }
    const ct = (f.headers.get('content-type') || '').split(';')[0].trim().toLowerCase();
    if (f.method === 'SEND' && ct && !s.acceptTypes.includes(ct)) { answer(415, 'Unsupported Media Type'); return; }
    answer(200, 'OK');
    s.receive(f);
  }

  // send writes a request and resolves with its response (REPORTs and Failure-Report: no excepted).
  send(method, headers, body, flag = '$', expectResponse = true) {
    const tid = token(12);
    this.ws.send(buildMSRP(tid, method, headers, body, flag));
    if (!expectResponse) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.pending.delete(tid); reject(new Error(method + ': no MSRP response')); }, 30000);
      this.pending.set(tid, { resolve: (r) => { clearTimeout(timer); resolve(r); }, reject: (e) => { clearTimeout(timer); reject(e); } });
    });
  }
}

export class MSRPSession {
  constructor(conn, local, remote) {
    this.conn = conn;
    this.local = local;
    this.remote = remote;
    this.parts = new Map(); // Message-ID → {chunks, type}
    this.onmessage = null; // ({contentType, body}) for every whole message
    this.acceptTypes = ['message/cpim']; // our a=accept-types: anything else gets 415
    conn.sessions.set(local, this);
  }

  headers(extra) { return [['To-Path', this.remote], ['From-Path', this.local], ...extra]; }

  // bind sends the bodiless SEND that binds the session to the connection (RFC 4975 §5.4).
  async bind() {
    const r = await this.conn.send('SEND', this.headers([['Message-ID', token(16)], ['Byte-Range', '1-0/0']]), null);
    if (r.status !== 200) throw new Error(`MSRP bind: ${r.status} ${r.comment}`);
  }

  // sendMessage sends body (Uint8Array) of contentType in chunks of chunkSize bytes and resolves
  // with the last chunk's response; onProgress(bytesSent) follows along.
  async sendMessage(contentType, body, chunkSize = 32 * 1024, onProgress = null) {
    const mid = token(16);
    const total = body.length;
    const waits = [];
    for (let s = 0; s === 0 || s < total; s += chunkSize) {
      const e = Math.min(total, s + chunkSize);
      const last = e === total;
      const h = [['Message-ID', mid], ['Byte-Range', `${s + 1}-${e}/${total}`], ['Failure-Report', 'yes'], ['Content-Type', contentType]];
      while (this.conn.ws.bufferedAmount > 1 << 20) await new Promise((r) => setTimeout(r, 20));
      waits.push(this.conn.send('SEND', this.headers(h), body.subarray(s, e), last ? '$' : '+'));
      if (onProgress) onProgress(e);
      if (last) break;
    }
    const answers = await Promise.all(waits);
    return answers.find((a) => a.status !== 200) || answers[answers.length - 1];
  }

  nickname(nick) {
    return this.conn.send('NICKNAME', this.headers([['Use-Nickname', JSON.stringify(nick)]]), null);
  }

  receive(f) {
    if (f.method !== 'SEND') return;
    const mid = f.headers.get('message-id') || '';
    if (!f.body.length && !f.headers.get('content-type')) return; // keepalive
    const br = /^(\d+)-(\d+|\*)\/(\d+|\*)$/.exec(f.headers.get('byte-range') || '1-*/*');
    const startAt = br ? +br[1] : 1;
    let p = this.parts.get(mid);
    if (!p) { p = { chunks: [], type: f.headers.get('content-type') || '' }; this.parts.set(mid, p); }
    if (f.headers.get('content-type')) p.type = f.headers.get('content-type');
    p.chunks.push({ at: startAt, data: f.body.slice() });
    if (f.flag === '#') { this.parts.delete(mid); return; } // aborted
    if (f.flag !== '$') return;
    this.parts.delete(mid);
    p.chunks.sort((a, b) => a.at - b.at);
    const size = p.chunks.reduce((n, c) => Math.max(n, c.at - 1 + c.data.length), 0);
    const body = new Uint8Array(size);
    for (const c of p.chunks) body.set(c.data, c.at - 1);
    if (this.onmessage) this.onmessage({ contentType: p.type, body });
  }
}

// ---- CPIM (RFC 3862) ----

export function buildCPIM(from, to, contentType, body, extraContentHeaders = []) {
  const head = `From: <${from}>\r\nTo: <${to}>\r\nDateTime: ${new Date().toISOString()}\r\n\r\n` +
    `Content-Type: ${contentType}\r\n` + extraContentHeaders.map((h) => h + '\r\n').join('') + '\r\n';
  return concat([enc.encode(head), typeof body === 'string' ? enc.encode(body) : body]);
}

export function parseCPIM(bytes) {
  const crlf2 = enc.encode('\r\n\r\n');
  const a = indexOf(bytes, crlf2);
  if (a < 0) throw new Error('CPIM without headers');
  const b = indexOf(bytes, crlf2, a + 2);
  const heads = (s) => s.split('\r\n').filter(Boolean).map((l) => { const i = l.indexOf(':'); return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()]; });
  const outer = heads(dec.decode(bytes.subarray(0, a)));
  const inner = b < 0 ? heads(dec.decode(bytes.subarray(a + 4))) : heads(dec.decode(bytes.subarray(a + 4, b)));
  const get = (hs, n) => (hs.find((h) => h[0] === n) || [])[1] || '';
  return {
    from: uriOf(get(outer, 'from')),
    fromName: (/^\s*"?([^"<]*?)"?\s*</.exec(get(outer, 'from')) || [])[1] || '',
    to: outer.filter((h) => h[0] === 'to').map((h) => uriOf(h[1])),
    dateTime: get(outer, 'datetime'),
    contentType: get(inner, 'content-type'),
    disposition: get(inner, 'content-disposition'),
    body: b < 0 ? new Uint8Array(0) : bytes.subarray(b + 4),
  };
}

export function sameURI(a, b) {
  const norm = (u) => (u || '').replace(/^sips?:/i, '').split(/[;?]/)[0].toLowerCase();
  return norm(a) === norm(b);
}

export function text(bytes) { return dec.decode(bytes); }

// ---- conference-info (RFC 4575) ----

// applyConferenceInfo merges a NOTIFY body into roster (entity → {aor, nick}), as RFC 4575 §4.4
// says: a full state replaces it, a partial one changes the users it names.
export function applyConferenceInfo(roster, xml) {
  const doc = new DOMParser().parseFromString(xml, 'application/xml');
  const root = doc.documentElement;
  if (!root || root.localName !== 'conference-info' || root.namespaceURI !== NS_CONF) throw new Error('not conference-info');
  const full = root.getAttribute('state') !== 'partial';
  if (full) roster.clear();
  const child = (el, name) => Array.from(el.children).find((c) => c.localName === name && c.namespaceURI === NS_CONF);
  const nickOf = (el) => Array.from(el.attributes).find((a) => a.localName === 'nickname');
  const users = child(root, 'users');
  let state = 'active';
  const cs = child(root, 'conference-state');
  if (cs && child(cs, 'active')) state = child(cs, 'active').textContent.trim() === 'false' ? 'inactive' : 'active';
  for (const u of users ? Array.from(users.children).filter((c) => c.localName === 'user') : []) {
    const entity = u.getAttribute('entity');
    if (u.getAttribute('state') === 'deleted') { roster.delete(entity); continue; }
    const prev = (!full && roster.get(entity)) || { aor: entity, nick: '', endpoints: new Map() };
    const aors = child(u, 'associated-aors');
    const aorEntry = aors && child(aors, 'entry');
    const aorURI = aorEntry && child(aorEntry, 'uri');
    if (aorURI) prev.aor = aorURI.textContent.trim();
    let nick = nickOf(u) ? nickOf(u).value : '';
    for (const ep of Array.from(u.children).filter((c) => c.localName === 'endpoint')) {
      const id = ep.getAttribute('entity');
      if (ep.getAttribute('state') === 'deleted') { prev.endpoints.delete(id); continue; }
      const st = child(ep, 'status');
      prev.endpoints.set(id, st ? st.textContent.trim() : (prev.endpoints.get(id) || 'connected'));
      if (!nick && nickOf(ep)) nick = nickOf(ep).value;
    }
    if (nick || u.hasAttributeNS(null, 'nickname')) prev.nick = nick;
    else if (nickOf(u) !== undefined) prev.nick = nick;
    roster.set(entity, prev);
  }
  for (const [entity, m] of roster) {
    if (m.endpoints.size && Array.from(m.endpoints.values()).every((s) => s === 'disconnected' || s === 'departed')) roster.delete(entity);
  }
  return state;
}

// ---- a room ----

// Room is one participant's chat session in a room: one SIP dialog (INVITE with an MSRP offer), one
// subscription to the room's conference events, one MSRP session. Events are dispatched as
// CustomEvents: 'message' {from, fromName, to, private, contentType, body, dateTime, disposition},
// 'notice' {text}, 'roster' {members}, 'composing' {from, active}, 'closed' {reason}.
export class Room extends EventTarget {
  constructor({ base, room, domain, aor, nick, credentials = null }) {
    super();
    this.credentials = credentials; // {user, password} for SIP Digest, or null
    this.base = base; // ws://host:port or wss://host:port
    this.room = room;
    this.roomURI = `sip:${room}@${domain}`;
    this.aor = aor;
    this.nick = nick;
    this.secure = base.startsWith('wss:');
    this.roster = new Map();
    this.files = new Set(); // dialogs of files being sent
    this.closed = false;
  }

  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  offer(local, extra = []) {
    const h = this.sip.host;
    return ['v=0', `o=- ${Date.now()} 1 IN IP4 ${h}`, 's=-', `c=IN IP4 ${h}`, 't=0 0',
      `m=message 9 ${this.secure ? 'TCP/WSS/MSRP' : 'TCP/WS/MSRP'} *`, ...extra, `a=path:${local}`, 'a=setup:active', ''].join('\r\n');
  }

  localPath() { return `${this.secure ? 'msrps' : 'msrp'}://${this.sip.host}/${token(16)};ws`; }

  async join() {
    this.sip = new SIPClient(this.base + '/sip', this.aor, this.nick);
    this.sip.credentials = this.credentials;
    this.sip.onrequest = (req) => this.onRequest(req);
    this.sip.onclose = () => this.end('connection to the server lost');
    await this.sip.connect();
    const local = this.localPath();
    this.dialog = { to: this.roomURI, callID: token(20), localTag: token(10), cseq: 0 };
    const res = await this.sip.request('INVITE', this.dialog, ['Content-Type: application/sdp'],
      this.offer(local, ['a=accept-types:message/cpim', 'a=accept-wrapped-types:*', 'a=chatroom:nickname private-messages']));
    if (res.status !== 200) throw new Error(`${res.status} ${res.reason}`);
    dialogFrom(this.dialog, res);
    this.dialog.ackCSeq = this.dialog.cseq;
    await this.sip.request('ACK', this.dialog);
    const remote = answerPath(res.body);
    this.msrp = new MSRPConnection(this.base + '/msrp');
    this.msrp.onclose = () => this.end('connection to the server lost');
    await this.msrp.connect();
    this.session = new MSRPSession(this.msrp, local, remote);
    this.session.onmessage = (m) => this.onMSRP(m);
    await this.session.bind();
    this.subDialog = { to: this.roomURI, callID: token(20), localTag: token(10), cseq: 0 };
    const sub = await this.sip.request('SUBSCRIBE', this.subDialog, ['Event: conference', 'Expires: 600', 'Accept: application/conference-info+xml']);
    if (sub.status === 200 || sub.status === 202) {
      dialogFrom(this.subDialog, sub);
      this.refresh = setInterval(() => this.sip.request('SUBSCRIBE', this.subDialog, ['Event: conference', 'Expires: 600', 'Accept: application/conference-info+xml']).catch(() => {}), 540000);
    }
    if (this.nick) await this.setNickname(this.nick);
  }

  async setNickname(nick) {
    const r = await this.session.nickname(nick);
    if (r.status !== 200) {
      const why = { 423: 'Nickname not allowed', 425: 'Nickname already in use' }[r.status] || r.comment;
      this.emit('notice', { text: `nickname "${nick}" refused: ${r.status} ${why}` });
      return false;
    }
    this.nick = nick;
    return true;
  }

  onRequest(req) {
    const callID = req.get('call-id');
    const inDialog = !!param(req.get('to'), 'tag');
    const ours = [this.dialog, this.subDialog, ...this.files].some((d) => d && d.callID === callID);
    if (inDialog && !ours) return { status: 481, reason: 'Call/Transaction Does Not Exist' };
    if (req.method === 'NOTIFY' && !(this.subDialog && this.subDialog.callID === callID)) {
      return { status: 481, reason: 'Subscription Does Not Exist' };
    }
    switch (req.method) {
      case 'NOTIFY': {
        if (req.get('content-type').startsWith('application/conference-info+xml') && req.body) {
          try {
            applyConferenceInfo(this.roster, req.body);
            this.emit('roster', { members: Array.from(this.roster.values()) });
          } catch (e) { console.warn(e); }
        }
        if (/^terminated/i.test(req.get('subscription-state'))) clearInterval(this.refresh);
        return { status: 200, reason: 'OK' };
      }
      case 'BYE':
        if (req.get('call-id') === this.dialog.callID) setTimeout(() => this.end('the room ended the call'), 0);
        return { status: 200, reason: 'OK' };
      case 'INVITE': // a refresh of the session (RFC 4028): the same answer again
      case 'UPDATE':
        if (!inDialog || callID !== this.dialog.callID) return { status: 488, reason: 'Not Acceptable Here' };
        req.localTag = this.dialog.localTag;
        return { status: 200, reason: 'OK', headers: req.body ? ['Content-Type: application/sdp'] : [], body: req.body ? this.offer(this.session.local, ['a=accept-types:message/cpim', 'a=accept-wrapped-types:*', 'a=chatroom:nickname private-messages']) : '' };
      default:
        return { status: 200, reason: 'OK' };
    }
  }

  onMSRP(m) {
    if (!m.contentType.toLowerCase().startsWith('message/cpim')) return;
    let c;
    try { c = parseCPIM(m.body); } catch (e) { console.warn(e); return; }
    const ct = c.contentType.toLowerCase();
    if (ct.startsWith('application/im-iscomposing+xml')) {
      const doc = new DOMParser().parseFromString(text(c.body), 'application/xml');
      const st = doc.getElementsByTagNameNS('urn:ietf:params:xml:ns:im-iscomposing', 'state')[0];
      const ref = doc.getElementsByTagNameNS('urn:ietf:params:xml:ns:im-iscomposing', 'refresh')[0];
      this.emit('composing', { from: c.from, active: !!st && st.textContent.trim() === 'active', refresh: ref ? +ref.textContent : 120 });
      return;
    }
    if (ct.startsWith('message/imdn+xml')) return;
    const priv = c.to.length > 0 && c.to.every((t) => sameURI(t, this.aor));
    if (sameURI(c.from, this.roomURI) && ct.startsWith('text/')) {
      this.emit('notice', { text: text(c.body), dateTime: c.dateTime });
      return;
    }
    this.emit('message', { ...c, private: priv });
  }

  // say sends text to the room, or privately to a member's URI.
  async say(body, to = null) {
    const r = await this.session.sendMessage('message/cpim', buildCPIM(this.aor, to || this.roomURI, 'text/plain;charset=utf-8', body));
    if (r.status !== 200) throw new Error(`${r.status} ${r.comment}`);
  }

  // composing sends an RFC 3994 status message (not logged, not answered by anyone).
  composing(active, to = null) {
    const xml = '<?xml version="1.0" encoding="UTF-8"?>\n<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing">' +
      `<state>${active ? 'active' : 'idle'}</state><contenttype>text/plain</contenttype>${active ? '<refresh>60</refresh>' : ''}</isComposing>`;
    return this.session.sendMessage('message/cpim', buildCPIM(this.aor, to || this.roomURI, 'application/im-iscomposing+xml', xml)).catch(() => {});
  }

  // sendFile pushes a file to the room (RFC 5547 §8, the push case): an INVITE of its own with a
  // sendonly m-line and a=file-selector, the file on that MSRP session, then BYE. to names one
  // member (Subject), or the whole room when null.
  async sendFile(file, to = null, onProgress = null) {
    const type = file.type || 'application/octet-stream';
    const data = new Uint8Array(await file.arrayBuffer());
    const local = this.localPath();
    const d = { to: this.roomURI, callID: token(20), localTag: token(10), cseq: 0 };
    const name = file.name.replace(/["\\\r\n]/g, '_');
    const sdp = this.offer(local, ['a=sendonly', `a=accept-types:${type}`,
      `a=file-selector:name:"${name}" type:${type} size:${data.length}`, `a=file-transfer-id:${token(24)}`,
      `a=file-date:modification:"${new Date(file.lastModified || Date.now()).toUTCString()}"`]);
    const extra = ['Content-Type: application/sdp'];
    if (to) extra.push('Subject: ' + to);
    this.files.add(d);
    let res;
    try {
      res = await this.sip.request('INVITE', d, extra, sdp);
    } finally {
      if (!res || res.status !== 200) this.files.delete(d);
    }
    if (res.status !== 200) throw new Error(`${res.status} ${res.reason}`);
    dialogFrom(d, res);
    d.ackCSeq = d.cseq;
    await this.sip.request('ACK', d);
    const conn = new MSRPConnection(this.base + '/msrp');
    try {
      await conn.connect();
      const s = new MSRPSession(conn, local, answerPath(res.body));
      const r = await s.sendMessage(type, data, 64 * 1024, onProgress);
      if (r.status !== 200) throw new Error(`${r.status} ${r.comment}`);
    } finally {
      await this.sip.request('BYE', d).catch(() => {});
      this.files.delete(d);
      conn.close();
    }
  }

  async leave() {
    if (this.closed) return;
    clearInterval(this.refresh);
    try {
      if (this.subDialog && this.subDialog.remoteTag) await this.sip.request('SUBSCRIBE', this.subDialog, ['Event: conference', 'Expires: 0']).catch(() => {});
      if (this.dialog && this.dialog.remoteTag) await this.sip.request('BYE', this.dialog).catch(() => {});
    } finally {
      this.end('left the room');
    }
  }

  end(reason) {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.refresh);
    if (this.msrp) this.msrp.close();
    if (this.sip) this.sip.close();
    this.emit('closed', { reason });
  }
}

// answerPath returns the a=path of the first accepted m-line of an SDP answer.
function answerPath(sdp) {
  let accepted = false;
  for (const line of sdp.split(/\r?\n/)) {
    const m = /^m=message (\d+) /.exec(line);
    if (m) { if (accepted) break; accepted = m[1] !== '0'; continue; }
    if (accepted && line.startsWith('a=path:')) return line.slice(7).trim().split(/\s+/)[0];
  }
  throw new Error('the answer accepts no MSRP line');
}
