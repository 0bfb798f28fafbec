/*
 * civic.sip.js as served by the local Civic SIP emulator (civic-sip-native/emulator).
 *
 * The browser API of Civic's hosted script: `new civic.sip({ appId })`, `signup`, `login` and
 * `kyc` with `{ style: 'popup', scopeRequest }`, `civic.ScopeRequests`, and the events
 * 'auth-code-received', 'user-cancelled', 'read', 'close' and 'civic-sip-error'. Where Civic's
 * modal shows a QR code for the phone app, this one frames the emulated user's consent screen,
 * served by the emulator. The frame answers with postMessage; only messages from that frame and
 * the emulator's origin are heeded. No dependencies, ES2015, no build step.
 */
(function (global) {
  'use strict';

  var script = document.currentScript;
  // The emulator that served this file: the consent frame comes from the same place.
  var EMULATOR_ORIGIN = new URL(script ? script.src : '/', document.baseURI).origin;
  var MESSAGE_SOURCE = 'civic-sip-emulator';

  var ScopeRequests = Object.freeze({
    BASIC_SIGNUP: 'BASIC_SIGNUP',
    ANONYMOUS_LOGIN: 'ANONYMOUS_LOGIN',
    PROOF_OF_EMAIL: 'PROOF_OF_EMAIL',
    PROOF_OF_IDENTITY: 'PROOF_OF_IDENTITY',
    PROOF_OF_RESIDENCE: 'PROOF_OF_RESIDENCE',
    PROOF_OF_AGE: 'PROOF_OF_AGE',
  });

  var EVENTS = ['auth-code-received', 'user-cancelled', 'read', 'close', 'civic-sip-error'];

  function CivicSip(config) {
    if (!(this instanceof CivicSip)) return new CivicSip(config);
    if (!config || typeof config.appId !== 'string' || config.appId === '') {
      throw new TypeError('civic.sip: config.appId must be your application ID');
    }
    this.appId = config.appId;
    this._handlers = {};
    this._modal = null;
  }

  CivicSip.prototype.ScopeRequests = ScopeRequests;

  CivicSip.prototype.on = function (name, handler) {
    // A misspelt (or an older docs') event name would otherwise wait forever for nothing.
    if (EVENTS.indexOf(name) < 0) {
      throw new TypeError("civic.sip: unknown event '" + name + "'; the events are " + EVENTS.join(', '));
    }
    if (typeof handler !== 'function') throw new TypeError('civic.sip: the handler must be a function');
    (this._handlers[name] = this._handlers[name] || []).push(handler);
    return this;
  };

  CivicSip.prototype.off = function (name, handler) {
    var list = this._handlers[name] || [];
    this._handlers[name] = handler ? list.filter(function (h) { return h !== handler; }) : [];
    return this;
  };

  CivicSip.prototype._emit = function (name, event) {
    (this._handlers[name] || []).slice().forEach(function (handler) {
      try {
        handler(event);
      } catch (error) {
        // One failing handler must not stop the others or the modal.
        setTimeout(function () { throw error; });
      }
    });
  };

  CivicSip.prototype._error = function (type, message) {
    this._emit('civic-sip-error', { event: 'scoperequest:error', type: type, message: message });
  };

  CivicSip.prototype.signup = function (options) { this._open('signup', options); };
  CivicSip.prototype.login = function (options) { this._open('login', options); };
  CivicSip.prototype.kyc = function (options) { this._open('kyc', options); };

  /** Closes the modal, if one is open, as the user's close button does. */
  CivicSip.prototype.close = function () { this._close(); };

  CivicSip.prototype._open = function (mode, options) {
    var opts = options || {};
    if (opts.style !== undefined && opts.style !== 'popup') {
      this._error('config', "unsupported style '" + opts.style + "': the emulator shows a popup");
      return;
    }
    var scope = opts.scopeRequest === undefined ? ScopeRequests.BASIC_SIGNUP : opts.scopeRequest;
    if (typeof scope !== 'string' || scope === '') {
      this._error('config', 'scopeRequest must be one of civic.ScopeRequests');
      return;
    }
    this._close();

    var query = new URLSearchParams({ appId: this.appId, scope: scope, mode: mode, parent: location.origin });
    var overlay = document.createElement('div');
    overlay.className = 'civic-modal';
    overlay.setAttribute('role', 'dialog');
    overlay.setAttribute('aria-modal', 'true');
    overlay.setAttribute('aria-label', 'Civic');
    var box = document.createElement('div');
    box.className = 'civic-window';
    var header = document.createElement('div');
    header.className = 'civic-header';
    var title = document.createElement('span');
    title.className = 'civic-title';
    title.textContent = 'Civic';
    var badge = document.createElement('span');
    badge.className = 'civic-badge';
    badge.textContent = 'local emulator';
    var closeButton = document.createElement('button');
    closeButton.type = 'button';
    closeButton.className = 'civic-close';
    closeButton.setAttribute('aria-label', 'Close');
    closeButton.textContent = '\u00d7';
    var frame = document.createElement('iframe');
    frame.className = 'civic-iframe';
    frame.title = 'Civic consent';
    frame.src = EMULATOR_ORIGIN + '/consent?' + query.toString();
    header.appendChild(title);
    header.appendChild(badge);
    header.appendChild(closeButton);
    box.appendChild(header);
    box.appendChild(frame);
    overlay.appendChild(box);

    var self = this;
    var onMessage = function (message) {
      if (message.origin !== EMULATOR_ORIGIN || message.source !== frame.contentWindow) return;
      var m = message.data;
      if (!m || m.source !== MESSAGE_SOURCE) return;
      if (m.type === 'size' && typeof m.height === 'number') {
        frame.style.height = Math.max(120, Math.min(m.height, global.innerHeight - 120)) + 'px';
      } else if (m.type === 'read') {
        self._emit('read', { event: 'scoperequest:read' });
      } else if (m.type === 'auth-code') {
        self._emit('auth-code-received', { event: 'scoperequest:auth-code-received', response: m.authCode, type: 'code' });
        self._close();
      } else if (m.type === 'cancelled') {
        self._emit('user-cancelled', { event: 'scoperequest:user-cancelled' });
        self._close();
      } else if (m.type === 'error') {
        self._emit('civic-sip-error', { event: 'scoperequest:error', type: m.errorType, message: m.message });
      }
    };
    closeButton.addEventListener('click', function () { self._close(); });
    global.addEventListener('message', onMessage);
    this._modal = { overlay: overlay, onMessage: onMessage };
    document.body.appendChild(overlay);
  };

  CivicSip.prototype._close = function () {
    var modal = this._modal;
    if (!modal) return;
    this._modal = null;
    global.removeEventListener('message', modal.onMessage);
    if (modal.overlay.parentNode) modal.overlay.parentNode.removeChild(modal.overlay);
    this._emit('close', { event: 'scoperequest:close' });
  };

  var civic = global.civic || {};
  civic.sip = CivicSip;
  civic.ScopeRequests = ScopeRequests;
  civic.emulator = { origin: EMULATOR_ORIGIN };
  global.civic = civic;
}(window));
