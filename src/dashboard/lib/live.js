// The live feed (/ws): one WebSocket for the whole app, reconnecting; pages subscribe to its message types.
import { apiKey } from './api.js';

const listeners = new Map();
let socket;
let state = 'connecting';

function emit(type, data) {
  for (const fn of listeners.get(type) ?? []) fn(data);
}

function connect() {
  // Browsers cannot set headers on a WebSocket: the key goes as a query parameter of this one request.
  const key = apiKey.get();
  const query = key ? `?api_key=${encodeURIComponent(key)}` : '';
  socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws${query}`);
  socket.onopen = () => emit('state', (state = 'live'));
  socket.onclose = () => {
    emit('state', (state = 'reconnecting'));
    setTimeout(connect, 1000);
  };
  socket.onmessage = (message) => {
    const m = JSON.parse(message.data);
    emit(m.type, m.data);
  };
}

export const live = {
  start: connect,
  /** Reconnect, e.g. with a new API key. */
  restart: () => socket?.close(),
  get state() {
    return state;
  },
  /** Call `fn` with each message of `type` ('summary', 'decisions', 'state'); returns the unsubscribe. */
  on(type, fn) {
    if (!listeners.has(type)) listeners.set(type, new Set());
    listeners.get(type).add(fn);
    return () => listeners.get(type).delete(fn);
  },
};
