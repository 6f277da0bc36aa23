// Beacon's service worker: shows the status notifications that the server sends over Web Push.
'use strict';

// a new version takes over at once instead of waiting for every status page tab to close
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  let message = {};
  try {
    message = event.data ? event.data.json() : {};
  } catch (error) {
    // browsers revoke the subscription of a worker that receives a push and shows nothing
    message = { body: event.data.text() };
  }
  const options = { body: message.body || '', data: { url: message.url || '/' } };
  if (message.tag) options.tag = message.tag;
  if (message.icon) options.icon = message.icon;
  event.waitUntil(self.registration.showNotification(message.title || 'Status update', options));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = new URL((event.notification.data && event.notification.data.url) || '/', self.location.origin).href;
  event.waitUntil((async () => {
    const open = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const tab = open.find((client) => client.url === url && 'focus' in client);
    if (tab) return tab.focus();
    return self.clients.openWindow(url);
  })());
});
