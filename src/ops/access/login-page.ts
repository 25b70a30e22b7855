/** The login form for the fleet page: no script, no inline style, posts only to this origin. */
export const LOGIN_CSP = ["default-src 'none'", "style-src 'self'", "img-src 'self'", "form-action 'self'", "base-uri 'none'", "frame-ancestors 'none'"].join(
  '; ',
);

export function loginPage(message?: string): string {
  const note = message ? `\n    <p class="login-error" role="alert">${message}</p>` : '';
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>fleet-telemetry: sign in</title>
    <link rel="icon" href="/assets/icon.svg">
    <link rel="stylesheet" href="/assets/fleet.css">
  </head>
  <body>
    <main class="login">
    <h1>fleet-telemetry</h1>
    <p>The fleet view needs the token of <code>monitoring.fleet_view.token_file</code>.</p>${note}
    <form method="post" action="/login">
      <label for="token">Token</label>
      <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
      <button type="submit">Sign in</button>
    </form>
    </main>
  </body>
</html>
`;
}
