/*
 * The emulated user's consent screen, framed by the emulator's civic.sip.js. Reads the scope
 * request from the emulator, shows which app asks for which data, and reports the user's answer
 * to the page that opened it (the origin named in `parent`) with postMessage.
 */
(function () {
  'use strict';

  var params = new URLSearchParams(location.search);
  var parentOrigin = params.get('parent');
  var ACTIONS = {
    signup: 'asks you to sign up with Civic and share:',
    login: 'asks you to log in with Civic and share:',
    kyc: 'asks to verify your identity and share:',
  };

  function tell(message) {
    message.source = 'civic-sip-emulator';
    // Only the page that opened the request may hear the answer (the auth code included).
    if (window.parent !== window && parentOrigin) window.parent.postMessage(message, parentOrigin);
  }

  function show(id) {
    ['consent', 'problem', 'loading'].forEach(function (other) {
      document.getElementById(other).hidden = other !== id;
    });
    // The modal fits its frame to what is shown.
    tell({ type: 'size', height: Math.ceil(document.body.getBoundingClientRect().height) });
  }

  function fail(type, message) {
    document.getElementById('problem-text').textContent = message;
    show('problem');
    tell({ type: 'error', errorType: type, message: message });
  }

  function render(request) {
    document.getElementById('app-name').textContent = request.app.name;
    document.getElementById('action').textContent = ACTIONS[request.mode] || ACTIONS.signup;
    document.getElementById('app-id').textContent = request.app.appId;
    document.getElementById('scope').textContent = request.scope;
    var list = document.getElementById('records');
    request.records.forEach(function (record) {
      var item = document.createElement('li');
      item.dataset.label = record.label;
      var label = document.createElement('span');
      label.className = 'label';
      label.textContent = record.description;
      var value = document.createElement('span');
      value.className = 'value';
      value.textContent = record.value;
      item.appendChild(label);
      item.appendChild(value);
      list.appendChild(item);
    });
    document.getElementById('no-records').hidden = request.records.length > 0;
    show('consent');
    tell({ type: 'read' });
  }

  function decide(allow) {
    document.getElementById('allow').disabled = true;
    document.getElementById('deny').disabled = true;
    if (!allow) {
      tell({ type: 'cancelled' });
      return;
    }
    fetch('/consent/allow', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ appId: params.get('appId'), scope: params.get('scope'), parent: parentOrigin }),
    }).then(function (res) {
      return res.json().then(function (body) {
        if (!res.ok) throw Object.assign(new Error(body.error.message), { type: body.error.type });
        tell({ type: 'auth-code', authCode: body.authCode });
      });
    }).catch(function (error) {
      fail(error.type || 'webservice', error.message);
    });
  }

  document.getElementById('allow').addEventListener('click', function () { decide(true); });
  document.getElementById('deny').addEventListener('click', function () { decide(false); });

  fetch('/consent/request?' + params.toString()).then(function (res) {
    return res.json().then(function (body) {
      if (!res.ok) fail(body.error.type, body.error.message);
      else render(body);
    });
  }).catch(function (error) {
    fail('webservice', 'The emulator did not answer: ' + error.message);
  });
}());
