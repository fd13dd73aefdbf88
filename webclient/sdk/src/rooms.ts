// The room API a host's page needs (docs/API.md): the room's title, category, tags and
// thumbnail for the directory, and the platform's categories.

import { GlintError } from './errors.js';
import { type Endpoint, httpError, request } from './whip.js';

/** A room's metadata, as the directory shows it. */
export interface RoomMetadata {
  title: string;
  /** One of the platform's categories (roomCategories). */
  category: string;
  tags?: string[];
  thumbnailUrl?: string;
  /** Set by the server. */
  updatedAt?: string;
}

const base = (server: string) => server.replace(/\/+$/, '');

/**
 * setRoomMetadata replaces the room's metadata (PUT /rooms/{room}/metadata; the token needs
 * roomAdmin for the room) and resolves with what the server kept. It rejects with a
 * {@link GlintError} carrying the server's status and message: 400 names the field at fault.
 */
export async function setRoomMetadata(ep: Endpoint, md: RoomMetadata, signal?: AbortSignal): Promise<RoomMetadata> {
  const what = 'room metadata';
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (ep.token) headers.Authorization = `Bearer ${ep.token}`;
  const res = await request(`${base(ep.server)}/rooms/${encodeURIComponent(ep.room)}/metadata`, { method: 'PUT', headers, body: JSON.stringify(md), signal }, what);
  if (!res.ok) throw await httpError(what, res);
  return (await json(res, what)) as RoomMetadata;
}

// json reads an answer's JSON body, failing as the SDK fails: with a GlintError.
async function json(res: Response, what: string): Promise<unknown> {
  try {
    return await res.json();
  } catch (err) {
    throw new GlintError('http', `${what}: the server's answer is not JSON`, { status: res.status, cause: err });
  }
}

/** roomCategories lists the platform's categories, in its order (GET /directory/categories). */
export async function roomCategories(server: string, signal?: AbortSignal): Promise<string[]> {
  const what = 'categories';
  const res = await request(`${base(server)}/directory/categories`, { signal }, what);
  if (!res.ok) throw await httpError(what, res);
  return ((await json(res, what)) as { categories: string[] }).categories;
}
