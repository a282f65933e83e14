// The hosted page's passkey step: asks the browser for an assertion over the page's challenge
// (the options are in #passkeyOptions) and posts it back with the page's form. Runs on load;
// the form's button runs it again after a cancelled or failed attempt.
(function () {
  'use strict';
  var holder = document.getElementById('passkeyOptions');
  var form = holder && holder.closest('form');
  if (!form || !window.PublicKeyCredential) {
    return;
  }
  var field = form.querySelector('input[name=credential]');
  var options = JSON.parse(holder.getAttribute('data-options'));

  function bytes(b64url) {
    var b64 = b64url.replace(/-/g, '+').replace(/_/g, '/');
    var raw = atob(b64 + '==='.slice((b64.length + 3) % 4));
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) {
      out[i] = raw.charCodeAt(i);
    }
    return out.buffer;
  }

  function text(buffer) {
    var view = new Uint8Array(buffer);
    var raw = '';
    for (var i = 0; i < view.length; i++) {
      raw += String.fromCharCode(view[i]);
    }
    return btoa(raw).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function run() {
    var publicKey = Object.assign({}, options, {
      challenge: bytes(options.challenge),
      allowCredentials: (options.allowCredentials || []).map(function (c) {
        return Object.assign({}, c, { id: bytes(c.id) });
      }),
    });
    navigator.credentials.get({ publicKey: publicKey }).then(function (credential) {
      var r = credential.response;
      field.value = JSON.stringify({
        id: credential.id,
        rawId: text(credential.rawId),
        type: credential.type,
        response: {
          clientDataJSON: text(r.clientDataJSON),
          authenticatorData: text(r.authenticatorData),
          signature: text(r.signature),
          userHandle: r.userHandle ? text(r.userHandle) : undefined,
        },
        clientExtensionResults: credential.getClientExtensionResults(),
        authenticatorAttachment: credential.authenticatorAttachment || undefined,
      });
      form.submit();
    }, function (error) {
      var out = document.getElementById('passkeyError');
      out.textContent = 'The passkey was not used (' + (error && error.name ? error.name : 'cancelled') +
        '). Try again, or go back and sign in with your password.';
      out.hidden = false;
    });
  }

  form.addEventListener('submit', function (event) {
    if (!field.value) {
      event.preventDefault();
      run();
    }
  });
  run();
})();
