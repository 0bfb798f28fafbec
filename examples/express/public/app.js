// The browser side: Civic's civic.sip.js opens the popup; its auth code goes to our server.
(function () {
  'use strict';

  var settings = document.getElementById('civic-settings').dataset;
  var status = document.getElementById('status');
  var civicSip = new civic.sip({ appId: settings.appId });

  document.getElementById('sign-in').addEventListener('click', function () {
    status.textContent = '';
    civicSip.signup({ style: 'popup', scopeRequest: civicSip.ScopeRequests[settings.scope] });
  });

  // The auth code is a JWT from Civic; only our server can exchange it for the user's data.
  civicSip.on('auth-code-received', function (event) {
    var form = document.getElementById('auth-form');
    form.elements.authCode.value = event.response;
    form.submit();
  });

  civicSip.on('user-cancelled', function () {
    status.textContent = 'Sign-in cancelled: the request was denied in Civic.';
  });

  civicSip.on('civic-sip-error', function (error) {
    status.textContent = 'Civic could not start the sign-in (' + error.type + '): ' + error.message;
  });
}());
