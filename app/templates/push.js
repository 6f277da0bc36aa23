// The public status page's "Notify me" button: subscribes this browser to Web Push notifications and sends the
// subscription to Beacon, or takes it back. Markup: <button data-push data-key="…" data-url="…"
// [data-components="<id of a select multiple, or of an element holding checkboxes>"]> and an element with data-push-status next to it.
(() => {
  'use strict';

  const SUBSCRIBED = 'You will get a notification on this device when something changes.';
  const STOPPED = 'Notifications on this device are stopped.';

  function keyBytes(base64url) {
    const base64 = (base64url + '='.repeat((4 - (base64url.length % 4)) % 4)).replace(/-/g, '+').replace(/_/g, '/');
    return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  }

  function statusOf(button) {
    return button.parentElement.querySelector('[data-push-status]') || document.querySelector('[data-push-status]');
  }

  function chosenComponents(button) {
    // a <select multiple>, or any element holding checkboxes (the subscribe page's component list)
    const choice = button.dataset.components && document.getElementById(button.dataset.components);
    if (!choice) return [];
    if (choice.selectedOptions) return Array.from(choice.selectedOptions, (option) => Number(option.value));
    return Array.from(choice.querySelectorAll('input[type=checkbox]:checked'), (box) => Number(box.value));
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    if (!response.ok) {
      // Beacon answers errors as application/problem+json, with per-field messages in `errors`
      const problem = (await response.json().catch(() => null)) || {};
      const first = problem.errors && Object.values(problem.errors)[0];
      throw new Error(first || problem.detail || problem.title || `The server answered ${response.status}.`);
    }
  }

  async function subscribe(button, registration) {
    const permission = await Notification.requestPermission();
    if (permission !== 'granted') {
      throw new Error(permission === 'denied'
        ? "Notifications are blocked in this browser's settings."
        : 'Notifications were not allowed; click the button again to allow them.');
    }
    const sub = await registration.pushManager.subscribe({
      userVisibleOnly: true, applicationServerKey: keyBytes(button.dataset.key),
    });
    try {
      await post(button.dataset.url, { subscription: sub.toJSON(), components: chosenComponents(button) });
    } catch (error) {
      // a subscription the server does not know would only leave the button offering to stop nothing
      await sub.unsubscribe().catch(() => {});
      throw error;
    }
    return SUBSCRIBED;
  }

  async function unsubscribe(button, sub) {
    const endpoint = sub.endpoint;
    await sub.unsubscribe();
    // if the server misses this, the push service answers its next message with 410 and the server drops it then
    await post(button.dataset.url.replace(/\/$/, '') + '/unsubscribe', { endpoint }).catch(() => {});
    return STOPPED;
  }

  async function setUp(button) {
    if (!('serviceWorker' in navigator && 'PushManager' in window)) {
      button.hidden = true;
      return;
    }
    const label = button.textContent;
    const status = statusOf(button);
    const show = (text) => { if (status) status.textContent = text; };
    const current = async () => {
      const registration = await navigator.serviceWorker.getRegistration('/');
      return registration && registration.pushManager.getSubscription();
    };
    const render = (sub) => {  // touch the page only when the label changes: no layout work on a plain visit
      const text = sub ? 'Stop notifications' : label;
      if (button.textContent !== text) button.textContent = text;
    };
    render(await current().catch(() => null));

    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        const sub = await current();
        if (sub) {
          show(await unsubscribe(button, sub));
        } else {
          const registration = await navigator.serviceWorker.register('/sw.js');
          await navigator.serviceWorker.ready;
          show(await subscribe(button, registration));
        }
      } catch (error) {
        show(error && error.message ? error.message : 'Notifications could not be set up on this device.');
      } finally {
        render(await current().catch(() => null));
        button.disabled = false;
      }
    });
  }

  const start = () => document.querySelectorAll('button[data-push]').forEach(setUp);
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
