// Jest setup provided by Grafana scaffolding
import './.config/jest-setup';

// React 19's react-dom/server.browser (imported by @grafana/ui) needs MessageChannel, which jsdom lacks; a
// timer-based channel is enough for it and keeps no handle open after a test.
if (typeof globalThis.MessageChannel === 'undefined') {
  globalThis.MessageChannel = class MessageChannel {
    constructor() {
      this.port1 = { onmessage: null, close() {}, postMessage() {} };
      this.port2 = {
        close() {},
        postMessage: (data) => setTimeout(() => this.port1.onmessage?.({ data }), 0),
      };
    }
  };
}
