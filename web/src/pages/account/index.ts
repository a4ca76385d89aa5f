import { type ConsolePage, lazyPage } from "../console-page.ts";

/** The signed-in user's own account: change the password. Reached from the user's name in the header. */
const account: ConsolePage = {
  path: "account",
  title: "Your account",
  anyScope: [],
  ...lazyPage(() => import("./account-page.tsx")),
};
export default account;
