// Passkeys (W3C WebAuthn Level 3) for the form #passkey-form: it names the
// options URL (data-options), the ceremony (data-ceremony: "create" or
// "get") and whether to offer passkeys in the username field's autofill
// (data-conditional: conditional mediation, §5.1.4). The options come from
// the server as JSON; the credential goes back in the form's hidden
// fields, posted as any other form.
(() => {
  "use strict";
  const form = document.getElementById("passkey-form");
  const status = document.getElementById("passkey-status");
  if (!form || !window.PublicKeyCredential || !navigator.credentials) {
    return;
  }
  form.hidden = false;
  const show = (text) => {
    status.textContent = text;
    status.hidden = false;
  };
  const bytes = (text) =>
    Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0)).buffer;
  const text = (buffer) =>
    btoa(String.fromCharCode(...new Uint8Array(buffer)))
      .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const ids = (list) => (list || []).map((c) => Object.assign({}, c, { id: bytes(c.id) }));
  // Browsers older than the JSON helpers of Level 3 get the same by hand.
  const creation = (o) => PublicKeyCredential.parseCreationOptionsFromJSON
    ? PublicKeyCredential.parseCreationOptionsFromJSON(o)
    : Object.assign({}, o, {
      challenge: bytes(o.challenge),
      user: Object.assign({}, o.user, { id: bytes(o.user.id) }),
      excludeCredentials: ids(o.excludeCredentials),
    });
  const request = (o) => PublicKeyCredential.parseRequestOptionsFromJSON
    ? PublicKeyCredential.parseRequestOptionsFromJSON(o)
    : Object.assign({}, o, { challenge: bytes(o.challenge), allowCredentials: ids(o.allowCredentials) });
  const json = (credential) => {
    if (credential.toJSON) {
      return credential.toJSON();
    }
    const r = credential.response;
    const response = { clientDataJSON: text(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = text(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = text(r.authenticatorData);
      response.signature = text(r.signature);
      response.userHandle = r.userHandle ? text(r.userHandle) : null;
    }
    return {
      id: credential.id,
      rawId: text(credential.rawId),
      type: credential.type,
      response,
      clientExtensionResults: credential.getClientExtensionResults(),
    };
  };
  let waiting = null;
  const run = async (mediation) => {
    const answer = await fetch(form.dataset.options, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      credentials: "same-origin",
    });
    if (answer.status === 401 && form.dataset.ceremony === "create") {
      // The sign-in is no longer fresh: the page signs in again.
      location.reload();
      return;
    }
    if (!answer.ok) {
      throw new Error("no passkey options");
    }
    const offer = await answer.json();
    let credential;
    if (form.dataset.ceremony === "create") {
      credential = await navigator.credentials.create({ publicKey: creation(offer.publicKey) });
    } else {
      const abort = new AbortController();
      if (mediation) {
        waiting = abort;
      }
      credential = await navigator.credentials.get({
        publicKey: request(offer.publicKey),
        mediation: mediation || "optional",
        signal: abort.signal,
      });
    }
    if (credential) {
      form.elements.challenge_id.value = offer.challenge_id;
      form.elements.credential.value = JSON.stringify(json(credential));
      form.submit();
    }
  };
  const failed = (e) => {
    if (e.name !== "AbortError") {
      show("That did not work. Try again" + (form.dataset.fallback ? ", or " + form.dataset.fallback + "." : "."));
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (waiting) {
      waiting.abort();
      waiting = null;
    }
    status.hidden = true;
    run(null).catch(failed);
  });
  if (form.dataset.conditional && PublicKeyCredential.isConditionalMediationAvailable) {
    PublicKeyCredential.isConditionalMediationAvailable()
      .then((available) => available && run("conditional"))
      .catch(() => {});
  }
})();
