// Sign in with a token (pasted, or from `fabric login`'s one-time link, which is exchanged here by a POST).
import { ApiError, request, session } from "../api.js";
import { errorBox, field, h } from "../dom.js";

let pendingError = null;

export async function redeemSignInCode(code) {
  try {
    const { token } = await request("/v1/auth/exchange", { method: "POST", body: { code }, quiet401: true });
    session.signIn(token);
    session.me = null;
  } catch (error) {
    pendingError = error;
  }
}

export function signInPage({ onSignedIn }) {
  const input = h("input", {
    type: "password",
    name: "token",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    placeholder: "eyJhbGciOi…",
  });
  const status = h("div", { "aria-live": "polite" });
  if (pendingError) {
    status.append(errorBox(pendingError));
    pendingError = null;
  }
  const button = h("button", { type: "submit", class: "btn btn-primary btn-block" }, "Sign in");
  const form = h(
    "form",
    {
      class: "signin-form",
      onSubmit: async (event) => {
        event.preventDefault();
        const token = input.value.trim();
        if (!token) return;
        button.disabled = true;
        status.replaceChildren();
        session.signIn(token);
        try {
          session.me = await request("/v1/me", { quiet401: true });
          onSignedIn();
        } catch (error) {
          session.signOut();
          const message =
            error instanceof ApiError && error.status === 401
              ? { title: "This token is not accepted.", message: error.message }
              : error;
          status.append(errorBox(message));
          button.disabled = false;
          input.focus();
        }
      },
    },
    field("Access token", input, "Paste a token from your administrator, or run `fabric login` to open the portal signed in."),
    button,
    status,
  );
  return h(
    "main",
    { id: "main", class: "signin" },
    h(
      "section",
      { class: "signin-card", "aria-labelledby": "signin-title" },
      h("div", { class: "brand brand-large" }, h("img", { src: "/portal/assets/favicon.svg", alt: "", width: 40, height: 40 }), h("span", {}, "datafabric")),
      h("h1", { id: "signin-title" }, "Sign in"),
      h("p", { class: "lead" }, "Artifacts, their provenance, and who may read them."),
      form,
      h("p", { class: "fineprint" }, "The token stays in this browser tab and is sent only to this server. Signing out forgets it."),
    ),
  );
}
