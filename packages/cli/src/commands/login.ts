import { Command } from "@commander-js/extra-typings";
import { TokensSchema } from "@vigil/client";
import type { Cli } from "../cli.ts";
import { messageJson } from "../output.ts";

/** `vigil login`: signs in to the query API and keeps the tokens for later commands. */
export function loginCommand(cli: Cli) {
  return new Command("login")
    .summary("sign in to the query API (tokens kept in your config directory)")
    .description(
      "sign in to the query API; the tokens are kept in your config directory (vigil/credentials.json, readable only by you) and refreshed before they expire. The password is read from stdin: typed without echo, or piped: printf '%s' \"$PASSWORD\" | vigil login --username alice",
    )
    .requiredOption("-u, --username <name>", "who signs in")
    .action(async (options) => {
      const server = await cli.server();
      const { protocol, hostname } = new URL(server);
      if (protocol === "http:" && !["127.0.0.1", "localhost", "[::1]"].includes(hostname)) {
        cli.warn(`${server} is plain HTTP: the password and tokens cross the network unencrypted (use https://)`);
      }
      const password = await cli.readSecret("password");
      const vigil = await cli.api({ stored: true });
      const tokens = await vigil.login(options.username, password);
      // The tokens' fields without the tokens themselves: they stay in the credentials file.
      const { accessToken: _a, refreshToken: _r, ...shown } = messageJson(TokensSchema, tokens);
      cli.output.object({ server, ...shown, credentials: cli.credentials.path });
    });
}

/** `vigil logout`: ends the stored sign-in on the server and forgets its tokens. */
export function logoutCommand(cli: Cli) {
  return new Command("logout")
    .description("end the stored sign-in (the server revokes its tokens) and forget it")
    .action(async () => {
      const server = await cli.server();
      const vigil = await cli.api({ stored: true });
      const signedIn = (await vigil.session.tokens()) !== undefined;
      await vigil.logout();
      cli.output.object({ server, signedOut: signedIn });
    });
}
