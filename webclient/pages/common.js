// What the pages share: their query parameters, a tiny element helper, money, and the
// window.glintPage object end-to-end tests read.

// window.glint is the same object, with the state and error the demo pages' tests read.
export const page = (window.glintPage = window.glint = { state: 'idle', error: null, errors: [], alerts: [], events: {} });

export function params() {
  const q = new URLSearchParams(location.search);
  const origin = location.origin === 'null' ? '' : location.origin;
  return {
    room: q.get('room') || 'demo',
    token: q.get('token') || undefined,
    server: (q.get('server') || origin).replace(/\/+$/, ''),
    // more nodes of a cluster to fail over to (docs/SDK.md): comma-separated base URLs
    servers: (q.get('servers') || '').split(',').map((u) => u.trim()).filter(Boolean),
    q,
  };
}

export const $ = (id) => document.getElementById(id);

/** el makes an element with text (never HTML: every string here came from someone else). */
export function el(tag, text = '', cls = '') {
  const e = document.createElement(tag);
  if (text) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

export function money(minor, currency = 'EUR') {
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(minor / 100);
  } catch {
    return `${(minor / 100).toFixed(2)} ${currency}`;
  }
}

/** showError puts an error under a form and keeps it for tests. */
export function showError(target, err) {
  const msg = err?.serverMessage || err?.message || String(err);
  page.errors.push({ code: err?.code, message: msg });
  page.error = msg;
  if (target) target.textContent = msg;
}

/** count records that an event of this kind was seen (for tests). */
export function count(kind) {
  page.events[kind] = (page.events[kind] ?? 0) + 1;
}

/** fill replaces list's children with one item per entry, newest last, kept in view. */
export function append(list, item, max = 200) {
  list.append(item);
  while (list.children.length > max) list.firstChild.remove();
  list.scrollTop = list.scrollHeight;
}
