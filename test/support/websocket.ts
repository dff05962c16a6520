// How a WebSocket upgrade to the live feed ends, for tests of who may open it.
import WebSocket from 'ws';

/** 'open', or the status the server refused the upgrade with. `query` is appended to /ws. */
export function upgrade(url: string, options: WebSocket.ClientOptions = {}, query = ''): Promise<string> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`${url.replace('http', 'ws')}/ws${query}`, options);
    socket.once('open', () => {
      socket.terminate();
      resolve('open');
    });
    socket.once('unexpected-response', (req, res) => {
      // A refused upgrade leaves its HTTP request open unless the client drops it.
      req.destroy();
      resolve(String(res.statusCode));
    });
  });
}
