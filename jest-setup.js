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

// @grafana/ui measures text on a 2D canvas (auto-width comboboxes); jsdom has no canvas, and the scaffold's stub
// returns nothing. Measure 7 px per character, enough for layout code to run.
HTMLCanvasElement.prototype.getContext = () => ({
  font: '',
  measureText: (text) => ({ width: String(text).length * 7 }),
});

// Combobox menus observe their scroll position; jsdom lacks IntersectionObserver.
if (typeof globalThis.IntersectionObserver === 'undefined') {
  globalThis.IntersectionObserver = class IntersectionObserver {
    observe() {}
    unobserve() {}
    disconnect() {}
    takeRecords() {
      return [];
    }
  };
}
