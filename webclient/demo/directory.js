// The directory of live rooms (GET /directory), filtered by category (?category=).
//
// Each live room that has a title and a category (set by its admin with PUT
// /rooms/{room}/metadata) is a card linking to its watch page (/watch.html). The list refreshes every
// 5 s, the time the server lets it be cached. window.glint says where the page is, for
// tests: state "live" once a list is shown, rooms the names shown, in order.

const server = (new URLSearchParams(location.search).get('server') ?? '').replace(/\/+$/, '');
const select = document.getElementById('category');
const list = document.getElementById('rooms');
const empty = document.getElementById('empty');
const status = document.getElementById('status');
const REFRESH_MS = 5_000;

const glint = { state: 'new', error: '', rooms: [], category: '' };
window.glint = glint;

function setState(state, error = '') {
  glint.state = state;
  glint.error = error;
  status.textContent = state;
  status.dataset.state = state;
  document.getElementById('error').textContent = error;
}

async function getJSON(path) {
  const res = await fetch(server + path);
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${(await res.text()).trim()}`);
  return res.json();
}

// card renders one room with textContent only: titles and tags are other people's text.
function card(room) {
  const li = document.createElement('li');
  li.dataset.room = room.room;
  if (room.thumbnailUrl) {
    const img = document.createElement('img');
    img.src = room.thumbnailUrl;
    img.alt = '';
    img.loading = 'lazy';
    li.append(img);
  }
  const a = document.createElement('a');
  a.href = `/watch.html?${new URLSearchParams({ room: room.room, ...(server && { server }) })}`;
  a.textContent = room.title;
  const meta = document.createElement('span');
  meta.className = 'meta';
  const tags = room.tags.length ? ` · ${room.tags.map((t) => `#${t}`).join(' ')}` : '';
  meta.textContent = `${room.category} · ${room.viewers} watching${tags}`;
  li.append(a, ' ', meta);
  return li;
}

async function refresh() {
  const category = select.value;
  const page = await getJSON(`/directory${category ? `?${new URLSearchParams({ category })}` : ''}`);
  list.replaceChildren(...page.rooms.map(card));
  empty.hidden = page.rooms.length > 0;
  glint.rooms = page.rooms.map((r) => r.room);
  glint.category = category;
  setState('live');
}

async function main() {
  const { categories } = await getJSON('/directory/categories');
  for (const c of categories) select.append(new Option(c, c));
  const wanted = new URLSearchParams(location.search).get('category') ?? '';
  if (wanted && !categories.includes(wanted)) throw new Error(`category=${wanted}: not one of ${categories.join(', ')}`);
  select.value = wanted;
  select.addEventListener('change', () => {
    const q = new URLSearchParams(location.search);
    if (select.value) q.set('category', select.value);
    else q.delete('category');
    history.replaceState(null, '', `?${q}`);
    refresh().catch((e) => setState('failed', e.message));
  });
  await refresh();
  setInterval(() => refresh().catch((e) => setState('failed', e.message)), REFRESH_MS);
}

main().catch((e) => setState('failed', e.message));
